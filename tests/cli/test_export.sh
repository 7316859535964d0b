#!/usr/bin/env bash
# `alpha export` and `alpha eval` on a tiny trained run: the exported files (safetensors header names
# and shapes as Hugging Face's GPT-2, wte equal to the checkpoint's, config.json, the tokenizer), eval's
# figures consistent with each other (bits per byte = loss·tokens / ln 2 / bytes) and over the whole
# validation split; bad input (missing run, bad --format, corrupt or missing checkpoint, data gone) ->
# a clear message and a non-zero exit; an export that cannot be written fails cleanly, leaving no
# partial file and an earlier export intact. Usage: test_export.sh PATH/TO/alpha
set -u
alpha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/common.sh"

make_corpus "$work/corpus.txt"
runs=(--runs-dir "$work/runs")
"$alpha" train "${runs[@]}" --cache-dir "$work/cache" --data "$work/corpus.txt" --model d1 --batch 4 --seq 32 \
  --vocab 300 --warmup 5 --eval-every 0 --steps 20 --run tiny >/dev/null 2>&1 || fail "training the run"
run=$work/runs/tiny
ckpt=$(printf '%s/checkpoints/step-%08d.ckpt' "$run" 20)

# --- export ---
out=$("$alpha" export --run tiny "${runs[@]}" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "export/model.safetensors" <<<"$out" && grep -q "export/config.json" <<<"$out" &&
  grep -q "export/tokenizer.bin" <<<"$out"; then
  pass "export writes into <run>/export and prints the files"
else
  fail "export: rc=$rc $out"
fi
/usr/bin/python3 - "$run" "$ckpt" <<'PY' && pass "model.safetensors has GPT-2's names and shapes and the checkpoint's weights; config.json is a GPT2Config" || fail "exported files"
import json, math, struct, sys
run, ckpt = sys.argv[1:3]
raw = open(f"{run}/export/model.safetensors", "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
assert n % 8 == 0
header = json.loads(raw[8:8 + n])
meta = header.pop("__metadata__")
assert meta["format"] == "pt" and meta["alpha_step"] == "20" and meta["alpha_run"] == "tiny", meta
V, T, C = 300, 32, 64  # d1: 1 layer, 1 head, 64 wide
want = {"wte.weight": [V, C], "wpe.weight": [T, C], "ln_f.weight": [C], "ln_f.bias": [C],
        "h.0.ln_1.weight": [C], "h.0.ln_1.bias": [C], "h.0.ln_2.weight": [C], "h.0.ln_2.bias": [C],
        "h.0.attn.c_attn.weight": [C, 3 * C], "h.0.attn.c_attn.bias": [3 * C],
        "h.0.attn.c_proj.weight": [C, C], "h.0.attn.c_proj.bias": [C],
        "h.0.mlp.c_fc.weight": [C, 4 * C], "h.0.mlp.c_fc.bias": [4 * C],
        "h.0.mlp.c_proj.weight": [4 * C, C], "h.0.mlp.c_proj.bias": [C]}
assert {k: v["shape"] for k, v in header.items()} == want, header
assert all(v["dtype"] == "F32" for v in header.values())
spans = sorted(tuple(v["data_offsets"]) for v in header.values())
assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:])) and spans[-1][1] == len(raw) - 8 - n
data = raw[8 + n:]
b, e = header["wte.weight"]["data_offsets"]
wte = struct.unpack(f"<{V * C}f", data[b:e])
assert all(math.isfinite(x) for x in wte)
# checkpoint: magic, version u32, meta length u64, meta, params (count u64 + floats): wte comes first
c = open(ckpt, "rb").read()
(meta_len,) = struct.unpack("<Q", c[12:20])
at = 20 + meta_len + 8
assert wte == struct.unpack(f"<{V * C}f", c[at:at + 4 * V * C]), "wte differs from the checkpoint's"
config = json.load(open(f"{run}/export/config.json"))
expect = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V, "n_positions": T,
          "n_ctx": T, "n_embd": C, "n_layer": 1, "n_head": 1, "n_inner": None, "activation_function": "gelu_new",
          "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True, "resid_pdrop": 0.0, "attn_pdrop": 0.0}
assert all(config[k] == v for k, v in expect.items()), config
assert isinstance(config["bos_token_id"], int) and isinstance(config["eos_token_id"], int), config
PY
cmp -s "$run/export/tokenizer.bin" "$run/tokenizer.bin" && pass "the run's tokenizer is exported alongside" ||
  fail "tokenizer.bin differs from the run's"
out=$("$alpha" export --run "$run" --checkpoint 20 --out "$work/elsewhere" 2>&1)
[ $? -eq 0 ] && [ -f "$work/elsewhere/model.safetensors" ] && cmp -s "$work/elsewhere/model.safetensors" \
  "$run/export/model.safetensors" && pass "--out and --checkpoint=STEP" || fail "--out: $out"

# --- eval ---
full=$("$alpha" eval --run tiny "${runs[@]}" --json --validate 2>"$work/eval.err")
rc=$?
/usr/bin/python3 - "$full" "$run" <<'PY' && [ $rc -eq 0 ] && ! [ -s "$work/eval.err" ] &&
import json, math, sys
r = json.loads(sys.argv[1])
config = json.load(open(f"{sys.argv[2]}/config.json"))
assert r["step"] == 20 and r["seq"] == 32
assert r["tokens"] == config["val_tokens"] - 1, (r, config["val_tokens"])  # every token but the first
assert r["windows"] == -(-r["tokens"] // 32)
assert 0 < r["loss"] < math.log(300), r  # better than uniform after 20 steps
assert 0 < r["bytes"] and math.isclose(r["perplexity"], math.exp(r["loss"]), rel_tol=1e-9)
assert math.isclose(r["bits_per_byte"], r["loss"] * r["tokens"] / math.log(2) / r["bytes"], rel_tol=1e-9), r
PY
  pass "eval --json: the whole validation split, finite and consistent figures" || fail "eval: rc=$rc $full $(cat "$work/eval.err")"
json=$("$alpha" eval --run tiny "${runs[@]}" --json --max-tokens 40 --batch 1 2>&1)
/usr/bin/python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["tokens"]==39 and r["windows"]==2, r' "$json" &&
  pass "eval --max-tokens 40: 39 predictions in 2 windows" || fail "eval --max-tokens: $json"
out=$("$alpha" eval --run tiny "${runs[@]}" 2>&1)
grep -q "loss .* nats/token .*perplexity .* bits/byte" <<<"$out" && pass "eval prints loss, perplexity, bits/byte" ||
  fail "eval text: $out"

# The token cache gone: the data is tokenised again, the same split gives the same figures.
mv "$work/cache" "$work/cache.away"
again=$("$alpha" eval --run tiny "${runs[@]}" --json 2>&1)
[ "$again" = "$full" ] && pass "eval without the token cache re-tokenises the run's data" || fail "re-tokenised: $again vs $full"

# --- bad input: a clear one-line message (after any warnings) and a non-zero exit ---
expect_fail() {  # NAME PATTERN COMMAND...
  local name=$1 pattern=$2
  shift 2
  local err
  err=$("$@" 2>&1 >/dev/null)
  local rc=$?
  if [ $rc -ne 0 ] && grep -q -- "^alpha: error: .*$pattern" <<<"$(tail -1 <<<"$err")"; then
    pass "$name"
  else
    fail "$name: rc=$rc $err"
  fi
}
expect_fail "export of a missing run" "no such run" "$alpha" export --run nope "${runs[@]}"
expect_fail "eval of a missing run" "no such run" "$alpha" eval --run nope "${runs[@]}"
expect_fail "an unknown format lists the supported ones" "unknown export format 'onnx': supported formats are safetensors, gguf" \
  "$alpha" export --run nope "${runs[@]}" --format onnx
expect_fail "no best checkpoint" "has no best checkpoint" "$alpha" export --run tiny "${runs[@]}" --checkpoint best
expect_fail "no checkpoint at that step" "has no checkpoint at step 7" "$alpha" eval --run tiny "${runs[@]}" --checkpoint 7
cp "$ckpt" "$work/bad.ckpt"
/usr/bin/python3 -c 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[len(d)//2]^=0x40; open(p,"wb").write(d)' "$work/bad.ckpt"
expect_fail "a corrupt checkpoint file" "corrupt" "$alpha" export --run tiny "${runs[@]}" --checkpoint "$work/bad.ckpt" \
  --out "$work/bad-export"
[ ! -e "$work/bad-export" ] && pass "nothing written from a corrupt checkpoint" || fail "bad-export exists"
mv "$work/corpus.txt" "$work/corpus.away"
rm -rf "$work/cache"
expect_fail "eval with the data and its cache gone" "validation data of run .* is gone" \
  "$alpha" eval --run tiny "${runs[@]}"
mv "$work/corpus.away" "$work/corpus.txt"

# --- an export that cannot be written ---
expect_fail "export under a file" "cannot create folder" "$alpha" export --run tiny "${runs[@]}" --out "$work/corpus.txt/x"
# A write that fails part-way (file size limit; SIGXFSZ ignored so write() returns EFBIG): the earlier
# export in the folder is untouched and no temp file is left (works as root, unlike a read-only folder).
before=$(md5sum <"$run/export/model.safetensors")
expect_fail "a write failing part-way" "model.safetensors: write failed" \
  bash -c 'trap "" XFSZ; ulimit -f 64; exec "$@"' - "$alpha" export --run tiny "${runs[@]}"
if [ "$(md5sum <"$run/export/model.safetensors")" = "$before" ] && [ "$(ls "$run/export")" = $'config.json\nmodel.safetensors\ntokenizer.bin' ]; then
  pass "the earlier export is intact and no partial file is left"
else
  fail "after a failed export: $(ls -la "$run/export")"
fi

# The only checkpoint corrupt: refused.
/usr/bin/python3 -c 'import sys; p=sys.argv[1]; d=bytearray(open(p,"rb").read()); d[len(d)//2]^=0x40; open(p,"wb").write(d)' "$ckpt"
expect_fail "eval with every checkpoint corrupt" "has no valid checkpoint" "$alpha" eval --run tiny "${runs[@]}"

summary
