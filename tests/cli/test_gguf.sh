#!/usr/bin/env bash
# `alpha export --format=gguf` on a tiny gpt2 run, checked by an independent reader: Hugging Face's
# @huggingface/gguf parser (fetched from the npm registry into a cache folder; llama.cpp itself is not
# in Debian 12) reads the f32 and f16 exports, and gguf_read.mjs checks every metadata key, value and
# type, every tensor's name, shape and dtype, the vocabulary against the run's tokenizer, the f32
# tensors against the safetensors export of the same checkpoint and the f16 ones within fp16 rounding.
# Bad input: --dtype=bf16, --dtype=f16 with safetensors and a non-gpt2 run are refused in one line.
# Skips (exit 77) where npm or the package cannot be had; fails instead with CI=true.
# Usage: test_gguf.sh PATH/TO/alpha
set -u
alpha=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/common.sh"

# --- the reader: @huggingface/gguf, pinned, installed once into a cache folder ---
package=$(npm_cached @huggingface/gguf 0.4.6 dist/index.mjs) || exit $?

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make_corpus "$work/corpus.txt"
runs=(--runs-dir "$work/runs")
train() {
  "$alpha" train "${runs[@]}" --cache-dir "$work/cache" --data "$work/corpus.txt" --model d1 --batch 2 \
    --seq 32 --vocab 300 --warmup 2 --eval-every 0 --sample-every 0 "$@"
}
train --steps 10 --run tiny >"$work/train.log" 2>&1 && pass "a tiny gpt2 run trains" ||
  fail "training the run: $(tail -3 "$work/train.log")"
run=$work/runs/tiny

# --- export: f32 into <run>/export, f16 and safetensors elsewhere, all from the step-10 checkpoint ---
out=$("$alpha" export --run tiny "${runs[@]}" --format gguf 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "export/model.gguf" <<<"$out" && [ "$(ls "$run/export")" = model.gguf ]; then
  pass "--format=gguf writes <run>/export/model.gguf, nothing else, and prints it"
else
  fail "gguf export: rc=$rc $out $(ls -la "$run/export" 2>&1)"
fi
"$alpha" export --run tiny "${runs[@]}" --format=gguf --dtype=f16 --out "$work/f16" >/dev/null 2>&1 &&
  [ -f "$work/f16/model.gguf" ] && pass "--dtype=f16" || fail "f16 export"
"$alpha" export --run tiny "${runs[@]}" --checkpoint 10 --out "$work/st" >/dev/null 2>&1 &&
  [ -f "$work/st/model.safetensors" ] && pass "the safetensors export to compare with" || fail "safetensors export"
size32=$(stat -c %s "$run/export/model.gguf" 2>/dev/null || echo 0)
size16=$(stat -c %s "$work/f16/model.gguf" 2>/dev/null || echo 0)
[ "$size16" -lt "$size32" ] && pass "the f16 file is smaller ($size16 < $size32 bytes)" ||
  fail "f16 $size16 bytes, f32 $size32"

# --- the independent reader ---
if node "$here/gguf_read.mjs" "$package" "$run" "$run/export/model.gguf" "$work/f16/model.gguf" \
  "$work/st/model.safetensors" 10 >"$work/read.log" 2>&1; then
  pass "@huggingface/gguf reads both files; $(grep -c '^ok:' "$work/read.log") reader checks pass"
else
  fail "the reader: $(grep -v '^ok:' "$work/read.log")"
fi

# --- help and bad input: a clear one-line message and a non-zero exit ---
help=$("$alpha" export --help 2>&1)
grep -q -- "--dtype" <<<"$help" && grep -q "gguf" <<<"$help" && grep -q "token_embd" <<<"$help" &&
  pass "export --help tells of --format=gguf and --dtype" || fail "help: $help"
expect_fail "--dtype=bf16 is refused before the run is read" "unknown export dtype 'bf16': supported dtypes are f32 and f16" \
  "$alpha" export --run nope "${runs[@]}" --format gguf --dtype bf16
expect_fail "--dtype=f16 with safetensors is refused" "dtype=f16 is for --format=gguf" \
  "$alpha" export --run tiny "${runs[@]}" --dtype f16 --out "$work/st16"
[ ! -e "$work/st16" ] && pass "nothing written for a refused dtype" || fail "st16 exists"
if train --arch modern --steps 2 --ckpt-every 2 --run modern >"$work/modern.log" 2>&1; then
  expect_fail "a non-gpt2 run is refused" "GGUF export supports the gpt2 architecture only for now" \
    "$alpha" export --run modern "${runs[@]}" --format gguf --out "$work/modern-export"
  [ ! -e "$work/modern-export/model.gguf" ] && pass "nothing written for a non-gpt2 run" || fail "modern-export exists"
else
  fail "training an --arch=modern run: $(tail -3 "$work/modern.log")"
fi

summary
