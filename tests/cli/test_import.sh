#!/usr/bin/env bash
# `alpha import --format=safetensors`: a tiny trained run exported and imported again has bit-identical
# parameters (its checkpoint's buffer, and an export of the import equal to the first export), zero
# AdamW state at step 0, the same greedy samples and the same loss on the same text; an imported run is
# evaluated with --data and not resumed; a GPT-2 written by PyTorch (tests/reference/hf_gpt2_write.py:
# BF16, GPT2LMHeadModel names, mask buffers, GPT-2's vocab.json + merges.txt) imports, samples and
# evaluates; bad input (missing folder or files, damaged safetensors, unsupported dtype, missing or
# misshapen tensor, unsupported config, tokenizer of another size, an existing run, a write failing
# part-way) is one line on stderr, a non-zero exit and nothing written. Usage: test_import.sh PATH/TO/alpha SOURCE_ROOT
set -u
alpha=$1
root=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/common.sh"

make_corpus "$work/corpus.txt"
R=$work/runs
runs=(--runs-dir "$R")
"$alpha" train "${runs[@]}" --cache-dir "$work/cache" --data "$work/corpus.txt" --model d1 --batch 4 --seq 32 \
  --vocab 300 --warmup 5 --eval-every 0 --steps 20 --run tiny >/dev/null 2>&1 || fail "training the run"
"$alpha" export --run tiny "${runs[@]}" >/dev/null 2>&1 || fail "exporting the run"

# --- round trip ---
out=$("$alpha" import --format=safetensors "$R/tiny/export" "${runs[@]}" --run back 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "safetensors: 16 F32 tensors) into run $R/back" <<<"$out" &&
  grep -q "model: n_layer=1 n_head=1 n_embd=64 seq_len=32 vocab_size=300 (gpt2, head tied to wte)" <<<"$out" &&
  grep -q "tokenizer: tokenizer.bin, 300 tokens" <<<"$out" && grep -q "step-00000000.ckpt" <<<"$out"; then
  pass "import of an export prints the model, tokenizer and checkpoint"
else
  fail "import: rc=$rc $out"
fi
/usr/bin/python3 - "$R" <<'PY' && pass "the imported checkpoint holds the original's parameters bit for bit, zero AdamW state, step 0" || fail "imported checkpoint"
import json, struct, sys
runs = sys.argv[1]
def checkpoint(path):
    raw = open(path, "rb").read()
    assert raw[:8] == b"ALPHACKP"
    (meta_len,) = struct.unpack("<Q", raw[12:20])
    meta = json.loads(raw[20:20 + meta_len])
    at, arrays = 20 + meta_len, []
    for _ in range(3):
        (n,) = struct.unpack("<Q", raw[at:at + 8])
        arrays.append(raw[at + 8:at + 8 + 4 * n])
        at += 8 + 4 * n
    return meta, arrays
meta, (params, m, v) = checkpoint(f"{runs}/tiny/checkpoints/step-00000020.ckpt")
meta2, (params2, m2, v2) = checkpoint(f"{runs}/back/checkpoints/step-00000000.ckpt")
assert params2 == params, "parameters differ"
assert m2 == bytes(len(m)) and v2 == bytes(len(v)), "AdamW state is not zero"
assert meta2["step"] == 0 and meta2["tokenizer_hash"] == meta["tokenizer_hash"], meta2
assert meta2["architecture"] == meta["architecture"], meta2
config = json.load(open(f"{runs}/back/config.json"))
imported = config["imported"]
assert imported["format"] == "safetensors" and imported["from"] == f"{runs}/tiny/export", imported
assert imported["tokenizer"] == "tokenizer.bin" and imported["dtypes"] == {"F32": 16}, imported
original = json.load(open(f"{runs}/tiny/config.json"))
for key in ("n_layer", "n_head", "n_embd", "seq_len", "vocab_size", "architecture", "parameters", "tokenizer_hash"):
    assert config[key] == original[key], key
assert config["data"] == [] and config["model"] == "d1" and config["seq"] == 32, config
PY
"$alpha" export --run back "${runs[@]}" >/dev/null 2>&1 || fail "exporting the imported run"
/usr/bin/python3 - "$R" <<'PY' && pass "an export of the imported run equals the first export (tensors byte for byte, config.json)" || fail "re-export differs"
import json, struct, sys
runs = sys.argv[1]
def split(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    return header, meta, raw[8 + n:]
h1, m1, d1 = split(f"{runs}/tiny/export/model.safetensors")
h2, m2, d2 = split(f"{runs}/back/export/model.safetensors")
assert h1 == h2 and d1 == d2
assert m1["alpha_step"] == "20" and m2["alpha_step"] == "0" and m2["alpha_run"] == "back"
assert open(f"{runs}/tiny/export/config.json").read() == open(f"{runs}/back/export/config.json").read()
PY
cmp -s "$R/tiny/tokenizer.bin" "$R/back/tokenizer.bin" && pass "the run's tokenizer comes back unchanged" ||
  fail "tokenizer.bin differs"
s1=$("$alpha" sample --run tiny "${runs[@]}" --prompt "the quick" --temperature 0 --max-tokens 40 2>/dev/null)
s2=$("$alpha" sample --run back "${runs[@]}" --prompt "the quick" --temperature 0 --max-tokens 40 2>/dev/null)
[ -n "$s1" ] && [ "$s1" = "$s2" ] && pass "greedy samples of both runs are identical: $(head -c 60 <<<"$s1")" ||
  fail "samples differ: '$s1' vs '$s2'"
# (the same --batch: the loss is summed per batch, and the runs' default batches differ)
e1=$("$alpha" eval --run tiny "${runs[@]}" --data "$work/corpus.txt" --batch 4 --json 2>&1)
e2=$("$alpha" eval --run back "${runs[@]}" --data "$work/corpus.txt" --batch 4 --json 2>&1)
/usr/bin/python3 - "$e1" "$e2" <<'PY' && pass "eval --data: the same loss for both runs over the whole text" || fail "eval --data: $e1 / $e2"
import json, math, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a.pop("run").endswith("/tiny") and b.pop("run").endswith("/back")
assert a.pop("step") == 20 and b.pop("step") == 0
assert a == b, (a, b)
assert a["tokens"] > 3000 and 0 < a["loss"] < math.log(300), a
PY
expect_fail "eval of an imported run without --data" "run .*/back has no training data and so no validation split (it was imported): evaluate it on text with --data=PATH" \
  "$alpha" eval --run back "${runs[@]}"
expect_fail "resume of an imported run" "was imported (.*/tiny/export), not trained here" \
  "$alpha" train --resume="$R/back"
expect_fail "an existing run is not overwritten" "run directory $R/back already exists: pick another --run name" \
  "$alpha" import "$R/tiny/export" "${runs[@]}" --run back
expect_fail "the default name is the exported run's" "run directory $R/tiny already exists" \
  "$alpha" import "$R/tiny/export" "${runs[@]}"
help=$("$alpha" import --help 2>&1)
grep -q "vocab.json + merges.txt" <<<"$help" && grep -q -- "--seq" <<<"$help" && grep -q -- "--runs-dir" <<<"$help" &&
  grep -q "tie_word_embeddings" <<<"$help" && pass "import --help" || fail "import --help: $help"

# --- a GPT-2 written by PyTorch, with GPT-2's own tokenizer files ---
if [ -s "$root/data/gpt2/encoder.json" ]; then
  /usr/bin/python3 "$root/tests/reference/hf_gpt2_write.py" "$work/hf" --gpt2-files "$root/data/gpt2" --dtype bf16 \
    --prefix --buffers --positions 64 || fail "hf_gpt2_write.py"
  out=$("$alpha" import "$work/hf" "${runs[@]}" --run torch --seq 48 2>&1)
  rc=$?
  if [ $rc -eq 0 ] && grep -q "safetensors: 28 BF16 tensors; 4 mask buffers ignored" <<<"$out" &&
    grep -q "context 48 of the model's 64 positions" <<<"$out" &&
    grep -q "tokenizer: vocab.json + merges.txt, 50257 tokens, <|endoftext|> = 50256" <<<"$out"; then
    pass "a PyTorch-written BF16 GPT-2 (transformer. names, mask buffers) imports"
  else
    fail "PyTorch-written import: rc=$rc $out"
  fi
  sample=$("$alpha" sample --run torch "${runs[@]}" --prompt "Hello" --temperature 0 --max-tokens 8 --ignore-end 2>&1)
  [ $? -eq 0 ] && grep -q "^Hello" <<<"$sample" && pass "it samples" || fail "sample: $sample"
  json=$("$alpha" eval --run torch "${runs[@]}" --data "$work/corpus.txt" --max-tokens 200 --json 2>&1)
  /usr/bin/python3 -c 'import json,math,sys; r=json.loads(sys.argv[1]); assert r["tokens"]==199 and r["windows"]==5 and 9<r["loss"]<12, r' "$json" &&
    pass "eval --data: 199 predictions in windows of 48, near-uniform loss of a random model" || fail "eval: $json"
  # Another tokenizer size than config.json's vocab_size.
  mkdir -p "$work/vocab-mismatch" && cp "$R/tiny/export/"{model.safetensors,config.json} "$work/vocab-mismatch/" &&
    cp "$work/hf/"{vocab.json,merges.txt} "$work/vocab-mismatch/"
  expect_fail "a tokenizer of another size" "the tokenizer (vocab.json + merges.txt) has 50257 tokens, config.json's vocab_size is 300" \
    "$alpha" import "$work/vocab-mismatch" "${runs[@]}" --run bad
else
  [ "${CI:-}" = "true" ] && fail "data/gpt2 is missing: CI must run scripts/fetch-data"
  echo "skip: the PyTorch-written GPT-2 (data/gpt2 is missing; run scripts/fetch-data)"
fi

# --- bad input: one line, non-zero exit, nothing written ---
cat >"$work/damage.py" <<'PY'
"""damage.py SRC DST CASE: copies an export folder and damages it as CASE says."""
import array, json, shutil, struct, sys
src, dst, case = sys.argv[1:4]
shutil.copytree(src, dst)
path = f"{dst}/model.safetensors"
raw = bytearray(open(path, "rb").read())
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__")
tensors = {k: (v["dtype"], v["shape"], bytes(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]))
           for k, v in header.items()}
def write(tensors):
    head, data = {"__metadata__": meta}, b""
    for name, (dtype, shape, blob) in tensors.items():
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    text = json.dumps(head).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)
def config(key, value):
    c = json.load(open(f"{dst}/config.json"))
    c[key] = value
    json.dump(c, open(f"{dst}/config.json", "w"))
if case == "truncated-header":
    open(path, "wb").write(raw[:8 + n // 2])
elif case == "length-past-eof":
    open(path, "wb").write(struct.pack("<Q", len(raw)) + raw[8:])
elif case == "offsets-outside":
    last = max(header, key=lambda k: header[k]["data_offsets"][1])
    text = json.dumps(dict(header, **{last: dict(header[last], data_offsets=[header[last]["data_offsets"][0], header[last]["data_offsets"][1] + 4])}, __metadata__=meta)).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + raw[8 + n:])
elif case == "f64-dtype":
    dtype, shape, blob = tensors["wte.weight"]
    tensors["wte.weight"] = ("F64", shape, array.array("d", array.array("f", blob)).tobytes())
    write(tensors)
elif case == "unknown-dtype":
    dtype, shape, blob = tensors["wte.weight"]
    tensors["wte.weight"] = ("Q4", shape, blob)
    write(tensors)
elif case == "missing-tensor":
    del tensors["h.0.ln_1.bias"]
    write(tensors)
elif case == "wrong-shape":
    dtype, shape, blob = tensors["h.0.mlp.c_fc.weight"]
    tensors["h.0.mlp.c_fc.weight"] = (dtype, shape[::-1], blob)
    write(tensors)
elif case == "relu":
    config("activation_function", "relu")
elif case == "eps":
    config("layer_norm_epsilon", 1e-6)
else:
    raise SystemExit(f"unknown case {case}")
PY
bad_import() {  # NAME CASE PATTERN: the export damaged as CASE is refused with PATTERN
  local name=$1 case=$2 pattern=$3
  rm -rf "$work/bad-src"
  /usr/bin/python3 "$work/damage.py" "$R/tiny/export" "$work/bad-src" "$case" || { fail "$name: damage.py"; return; }
  expect_fail "$name" "$pattern" "$alpha" import "$work/bad-src" "${runs[@]}" --run bad
}
st="bad-src/model.safetensors"
bad_import "a truncated header" truncated-header "$st: the header length [0-9]* runs past the end of the file"
bad_import "a header length past the end" length-past-eof "$st: the header length [0-9]* runs past the end of the file"
bad_import "data offsets outside the data" offsets-outside "$st: tensor '.*' has data_offsets \[.*\] outside the [0-9]* bytes of data"
bad_import "an unsupported dtype" f64-dtype "$st: tensor 'wte.weight' is F64; alpha reads F32, F16 and BF16 tensors only"
bad_import "an unknown dtype" unknown-dtype "$st: tensor 'wte.weight' has the unknown dtype \"Q4\""
bad_import "a missing tensor" missing-tensor "$st: not the tensors of config.json's GPT-2 (.*): missing: h.0.ln_1.bias"
bad_import "a wrong shape" wrong-shape "wrong shape: h.0.mlp.c_fc.weight is \[256,64\], not \[64,256\]"
bad_import "a ReLU GPT-2" relu "config.json: activation_function \"relu\" is not alpha's GELU"
bad_import "another LayerNorm epsilon" eps "config.json: layer_norm_epsilon 1e-06 is not alpha's LayerNorm epsilon 1e-5"
expect_fail "a missing folder" "$work/nope: no such folder" "$alpha" import "$work/nope" "${runs[@]}" --run bad
for file in config.json model.safetensors tokenizer.bin; do
  rm -rf "$work/bad-src" && cp -r "$R/tiny/export" "$work/bad-src" && rm "$work/bad-src/$file"
  case $file in
  tokenizer.bin) pattern="bad-src: no tokenizer: expected tokenizer.bin (alpha export's), vocab.json + merges.txt" ;;
  *) pattern="bad-src/$file: missing" ;;
  esac
  expect_fail "no $file" "$pattern" "$alpha" import "$work/bad-src" "${runs[@]}" --run bad
done
expect_fail "an unknown format" "unknown import format 'gguf': supported formats are safetensors" \
  "$alpha" import "$R/tiny/export" "${runs[@]}" --run bad --format gguf
expect_fail "a context longer than the model's" "--seq=33 is longer than the model's context, n_positions = 32" \
  "$alpha" import "$R/tiny/export" "${runs[@]}" --run bad --seq 33
expect_fail "into a runs folder under a file" "cannot create $work/corpus.txt/runs" \
  "$alpha" import "$R/tiny/export" --runs-dir "$work/corpus.txt/runs" --run bad
# A write that fails part-way (file size limit; SIGXFSZ ignored so write() returns EFBIG): the
# half-built run is removed.
expect_fail "a write failing part-way" "cannot write checkpoint" \
  bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' - "$alpha" import "$R/tiny/export" "${runs[@]}" --run bad
want="back tiny"
[ -e "$R/torch" ] && want="back tiny torch"
[ "$(ls -A "$R" | tr '\n' ' ' | sed 's/ $//')" = "$want" ] && pass "the refused imports left nothing in the runs folder" ||
  fail "runs folder holds: $(ls -A "$R")"

summary
