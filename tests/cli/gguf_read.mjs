// Reads alpha's GGUF exports with Hugging Face's @huggingface/gguf parser (an implementation that owes
// nothing to alpha) and checks them against what the run says they must hold: every metadata key with
// its value and GGUF type, every tensor's name, ggml shape (ne), dtype and offset, the vocabulary
// against the run's tokenizer.bin (parsed here), the f32 tensors bit for bit against the safetensors
// export of the same checkpoint (Conv1D weights transposed back), and the f16 export within fp16
// rounding of the f32 one. Prints "ok: ..." / "FAIL: ..." lines; exits 1 on any failure.
// Usage: node gguf_read.mjs GGUF_PACKAGE_DIR RUN_DIR F32.gguf F16.gguf MODEL.safetensors STEP
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pkgDir, runDir, f32Path, f16Path, stPath, stepArg] = process.argv.slice(2);
const { gguf, GGUFValueType } = await import(pathToFileURL(path.join(pkgDir, "dist", "index.mjs")).href);

let failures = 0;
function check(name, fn) {
  try {
    fn();
    console.log(`ok: ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL: ${name}: ${e.message}`);
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));

// --- what the run says ---
const config = JSON.parse(fs.readFileSync(path.join(runDir, "config.json"), "utf8"));
const C = config.n_embd, L = config.n_layer, NH = config.n_head, T = config.seq_len, V = config.vocab_size;
const step = Number(stepArg);

// tokenizer.bin (tokenizer/artifact.cpp): "ALPHATOK", u32 version, pattern, vocab, merges; per token
// u8 special, u32 length, bytes; per merge u32 left, right, result, rank; then an XXH64.
function readTokenizer(file) {
  const b = fs.readFileSync(file);
  assert(b.subarray(0, 8).toString("latin1") === "ALPHATOK", `${file} is not an alpha tokenizer artifact`);
  let at = 8;
  const u32 = () => ((at += 4), b.readUInt32LE(at - 4));
  const version = u32(), pattern = u32(), nTokens = u32(), nMerges = u32();
  assert(version === 1, `tokenizer artifact version ${version}`);
  const tokens = [];
  for (let i = 0; i < nTokens; i++) {
    const special = b[at++] !== 0, n = u32();
    tokens.push({ special, bytes: b.subarray(at, at + n) });
    at += n;
  }
  const merges = [];
  for (let i = 0; i < nMerges; i++) merges.push({ left: u32(), right: u32(), result: u32(), rank: u32() });
  return { pattern, tokens, merges };
}
const tokenizer = readTokenizer(path.join(runDir, "tokenizer.bin"));

// GPT-2's bytes_to_unicode (openai/gpt-2 encoder.py).
const byteToUnicode = (() => {
  const printable = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + n++);
  return table;
})();
const wantTokens = tokenizer.tokens.map((t) =>
  t.special ? t.bytes.toString("utf8") : Array.from(t.bytes, (x) => byteToUnicode[x]).join(""));
const wantTypes = tokenizer.tokens.map((t) => (t.special ? 3 : 1));
const wantMerges = [...tokenizer.merges].sort((a, b) => a.rank - b.rank)
  .map((m) => `${wantTokens[m.left]} ${wantTokens[m.right]}`);
const specialId = (text) => {
  const i = tokenizer.tokens.findIndex((t) => t.special && t.bytes.toString("utf8") === text);
  return i < 0 ? undefined : i;
};
const bos = specialId("<|bos|>") ?? specialId("<|endoftext|>");
const eos = specialId("<|endoftext|>") ?? bos;

// The tensors llama.cpp's gpt2 loader asks for, in convert_hf_to_gguf.py's order: [name, ne, the
// safetensors tensor with the same values, whether that one is a Conv1D (in, out) weight].
const wantTensors = [["token_embd.weight", [C, V], "wte.weight", false],
                     ["position_embd.weight", [C, T], "wpe.weight", false]];
for (let l = 0; l < L; l++) {
  const b = `blk.${l}.`, h = `h.${l}.`;
  wantTensors.push(
    [b + "attn_norm.weight", [C], h + "ln_1.weight", false], [b + "attn_norm.bias", [C], h + "ln_1.bias", false],
    [b + "attn_qkv.weight", [C, 3 * C], h + "attn.c_attn.weight", true],
    [b + "attn_qkv.bias", [3 * C], h + "attn.c_attn.bias", false],
    [b + "attn_output.weight", [C, C], h + "attn.c_proj.weight", true],
    [b + "attn_output.bias", [C], h + "attn.c_proj.bias", false],
    [b + "ffn_norm.weight", [C], h + "ln_2.weight", false], [b + "ffn_norm.bias", [C], h + "ln_2.bias", false],
    [b + "ffn_up.weight", [C, 4 * C], h + "mlp.c_fc.weight", true], [b + "ffn_up.bias", [4 * C], h + "mlp.c_fc.bias", false],
    [b + "ffn_down.weight", [4 * C, C], h + "mlp.c_proj.weight", true],
    [b + "ffn_down.bias", [C], h + "mlp.c_proj.bias", false]);
}
wantTensors.push(["output_norm.weight", [C], "ln_f.weight", false], ["output_norm.bias", [C], "ln_f.bias", false]);
// llama.cpp (and its converter) keep 1-D tensors, norms and position_embd in f32 in an f16 file.
const isF16InF16File = (name) => name.endsWith(".weight") && !name.includes("norm") && name !== "position_embd.weight";

const F32 = 0, F16 = 1;  // GGMLQuantizationType
const U32 = GGUFValueType.UINT32, I32 = GGUFValueType.INT32, F32V = GGUFValueType.FLOAT32,
      BOOL = GGUFValueType.BOOL, STR = GGUFValueType.STRING, ARR = GGUFValueType.ARRAY;

async function open(file) {
  const parsed = await gguf(file, { allowLocalFile: true, typedMetadata: true, computeParametersCount: true });
  return { ...parsed, bytes: fs.readFileSync(file) };
}

function checkFile(label, g, fileType) {
  const m = g.typedMetadata;
  check(`${label}: GGUF version 3, ${wantTensors.length} tensors`, () => {
    assert(g.metadata.version === 3, `version ${g.metadata.version}`);
    assert(Number(g.metadata.tensor_count) === wantTensors.length, `tensor_count ${g.metadata.tensor_count}`);
  });
  // key -> [GGUF type, value (or a check), array element type]
  const want = {
    "general.architecture": [STR, "gpt2"],
    "general.name": [STR, config.run],
    "general.alignment": [U32, 32],
    "general.file_type": [U32, fileType],
    "gpt2.context_length": [U32, T],
    "gpt2.embedding_length": [U32, C],
    "gpt2.feed_forward_length": [U32, 4 * C],
    "gpt2.block_count": [U32, L],
    "gpt2.attention.head_count": [U32, NH],
    "gpt2.attention.layer_norm_epsilon": [F32V, Math.fround(1e-5)],
    "tokenizer.ggml.model": [STR, "gpt2"],
    "tokenizer.ggml.pre": [STR, tokenizer.pattern === 1 ? "gpt-2" : "dbrx"],
    "tokenizer.ggml.tokens": [ARR, wantTokens, STR],
    "tokenizer.ggml.token_type": [ARR, wantTypes, I32],
    "tokenizer.ggml.merges": [ARR, wantMerges, STR],
    "tokenizer.ggml.bos_token_id": [U32, bos],
    "tokenizer.ggml.add_bos_token": [BOOL, true],
    "tokenizer.ggml.eos_token_id": [U32, eos],
    "alpha.step": [U32, step],
    "alpha.tokenizer_hash": [STR, config.tokenizer_hash],
  };
  check(`${label}: exactly the ${Object.keys(want).length} metadata keys`, () => {
    const keys = Object.keys(m).filter((k) => !["version", "tensor_count", "kv_count"].includes(k));
    assert(json(keys.sort()) === json(Object.keys(want).sort()), `keys ${json(keys)}`);
    assert(Number(g.metadata.kv_count) === keys.length, `kv_count ${g.metadata.kv_count}`);
  });
  for (const [key, [type, value, subType]] of Object.entries(want)) {
    check(`${label}: ${key}`, () => {
      const got = m[key];
      assert(got, "missing");
      assert(got.type === type, `type ${got.type}, want ${type}`);
      if (subType !== undefined) assert(got.subType === subType, `element type ${got.subType}, want ${subType}`);
      assert(json(got.value) === json(value),
             `value ${json(got.value).slice(0, 200)}, want ${json(value).slice(0, 200)}`);
    });
  }
  check(`${label}: ${V} tokens and ${tokenizer.merges.length} merges, as the run's tokenizer`, () => {
    assert(m["tokenizer.ggml.tokens"].value.length === V && tokenizer.tokens.length === V, "token count");
    assert(m["tokenizer.ggml.merges"].value.length === tokenizer.merges.length, "merge count");
    assert(V === 256 + tokenizer.merges.length + tokenizer.tokens.filter((t) => t.special).length, "vocab parts");
  });
  check(`${label}: tensor names, order, ne and dtypes`, () => {
    const got = g.tensorInfos.map((t) => [t.name, t.shape.map(Number), t.dtype]);
    const exp = wantTensors.map(([name, ne]) => [name, ne, fileType === 1 && isF16InF16File(name) ? F16 : F32]);
    assert(json(got) === json(exp), `\n got ${json(got)}\nwant ${json(exp)}`);
  });
  check(`${label}: 32-byte aligned, packed offsets; the data section ends the file`, () => {
    assert(Number(g.tensorDataOffset) % 32 === 0, `data at ${g.tensorDataOffset}`);
    let offset = 0n;
    for (const t of g.tensorInfos) {
      assert(t.offset === offset, `${t.name} at ${t.offset}, want ${offset}`);
      const bytes = t.shape.reduce((a, d) => a * d, 1n) * (t.dtype === F16 ? 2n : 4n);
      offset += (bytes + 31n) / 32n * 32n;
    }
    const end = g.tensorDataOffset + offset;
    assert(end === BigInt(g.bytes.length), `file ${g.bytes.length} bytes, want ${end}`);
  });
  check(`${label}: ${config.parameters} parameters, as config.json says`, () => {
    assert(g.parameterCount === config.parameters, `parameterCount ${g.parameterCount}`);
  });
}

// A tensor's raw bytes in a parsed file.
function tensorBytes(g, name) {
  const t = g.tensorInfos.find((x) => x.name === name);
  const n = Number(t.shape.reduce((a, d) => a * d, 1n)) * (t.dtype === F16 ? 2 : 4);
  const at = Number(g.tensorDataOffset + t.offset);
  return g.bytes.subarray(at, at + n);
}
const floats = (buf) => new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
const words = (buf) => new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
function f16ToF32(h) {
  const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

function readSafetensors(file) {
  const b = fs.readFileSync(file);
  const n = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + n).toString("utf8"));
  const data = b.subarray(8 + n);
  return (name) => {
    const [s, e] = header[name].data_offsets;
    return { shape: header[name].shape, bytes: data.subarray(s, e) };
  };
}

const g32 = await open(f32Path), g16 = await open(f16Path);
checkFile("f32", g32, 0);
checkFile("f16", g16, 1);

const st = readSafetensors(stPath);
check("f32 tensors equal the safetensors export bit for bit (Conv1D weights transposed)", () => {
  for (const [name, ne, stName, conv1d] of wantTensors) {
    const a = words(tensorBytes(g32, name)), { shape, bytes } = st(stName), b = words(bytes);
    assert(a.length === b.length, `${name}: ${a.length} vs ${b.length} floats`);
    if (!conv1d) {
      assert(a.every((x, i) => x === b[i]), `${name} differs from ${stName}`);
      continue;
    }
    // gguf ne = [in, out]: element (o, i) at o·in + i; safetensors Conv1D (in, out): at i·out + o
    const [inF, outF] = ne;
    assert(json(shape) === json([inF, outF]), `${stName} shape ${json(shape)}`);
    for (let o = 0; o < outF; o++)
      for (let i = 0; i < inF; i++)
        assert(a[o * inF + i] === b[i * outF + o], `${name}[${o}, ${i}] differs from ${stName}[${i}, ${o}]`);
  }
});
check("f16 export: f32 tensors identical, f16 tensors the f32 values within fp16 rounding", () => {
  for (const [name] of wantTensors) {
    const a = tensorBytes(g32, name), b = tensorBytes(g16, name);
    if (!isF16InF16File(name)) {
      assert(Buffer.compare(a, b) === 0, `${name} differs`);
      continue;
    }
    const x = floats(a), h = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    assert(h.length === x.length, `${name}: ${h.length} halves for ${x.length} floats`);
    let nonzero = 0;
    for (let i = 0; i < x.length; i++) {
      const y = f16ToF32(h[i]);
      // round to nearest: at most half an f16 ulp, 2^-11 relative (2^-25 absolute among subnormals)
      const tol = Math.max(Math.abs(x[i]) * 2 ** -11, 2 ** -25);
      const err = Math.abs(y - x[i]);
      assert(err <= tol, `${name}[${i}]: f16 ${y} for f32 ${x[i]}`);
      if (y !== 0) nonzero++;
    }
    assert(nonzero > x.length / 2, `${name}: only ${nonzero} of ${x.length} values are non-zero`);
  }
});

console.log(failures ? `gguf_read: ${failures} checks failed` : "gguf_read: all checks passed");
process.exit(failures ? 1 : 0);
