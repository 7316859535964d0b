#!/usr/bin/env bash
# CLI checks for `alpha tokenizer` and `alpha data`: bad input gives one clear line on stderr,
# exit code 1, nothing on stdout and no file half-written; plus the happy paths (train, exact
# encode/decode round trip of random bytes, --tokenizer-artifacts load-or-train, data prepare).
# Usage: cli_errors.sh ALPHA
set -uo pipefail
alpha="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect_fail NAME KEYWORD CMD...: exit code 1, one stderr line containing KEYWORD, empty stdout.
expect_fail() {
  local name="$1" keyword="$2"
  shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" < "${STDIN:-/dev/null}"
  local rc=$?
  local lines
  lines=$(wc -l < "$tmp/err")
  if [[ $rc -ne 1 || $lines -ne 1 || -s "$tmp/out" ]] || ! grep -qF -- "$keyword" "$tmp/err"; then
    echo "FAIL: $name: rc=$rc, stderr lines=$lines, stdout bytes=$(wc -c < "$tmp/out"), want '$keyword'"
    sed 's/^/  stderr: /' "$tmp/err" | head -5
    failures=$((failures + 1))
  else
    echo "ok: $name: $(cat "$tmp/err")"
  fi
}

expect_ok() {
  local name="$1"
  shift
  if "$@" > "$tmp/out" 2> "$tmp/err" < "${STDIN:-/dev/null}"; then
    echo "ok: $name"
  else
    echo "FAIL: $name: exit $?"
    sed 's/^/  stderr: /' "$tmp/err" | head -5
    failures=$((failures + 1))
  fi
}

# Inputs: some text, an empty file, a binary file, .jsonl with and without "text".
python3 - "$tmp" <<'PY'
import random, sys
d = sys.argv[1]
rng = random.Random(5)
words = ["the", "of", "and", "token", "alpha", "merge", "It's", "naïve", "日本", "😀", "42", "1234", ",", ".", "\n"]
with open(f"{d}/text.txt", "w", encoding="utf-8") as f:
    f.write(" ".join(rng.choice(words) for _ in range(30000)))
open(f"{d}/empty.txt", "w").close()
with open(f"{d}/binary.bin", "wb") as f:
    f.write(bytes(rng.randrange(256) for _ in range(4096)) + b"\0")
with open(f"{d}/random.bin", "wb") as f:
    f.write(bytes(rng.randrange(256) for _ in range(20000)) + b"\xff\xfe\x80 \xed\xa0\x80")
with open(f"{d}/good.jsonl", "w") as f:
    f.write('{"text": "hello world"}\n{"text": "second line"}\n')
with open(f"{d}/notext.jsonl", "w") as f:
    f.write('{"text": "fine"}\n{"title": "no text here"}\n')
PY

tok="$tmp/tok.bin"
expect_ok "train" "$alpha" tokenizer train --input="$tmp/text.txt" --vocab-size=600 --output="$tok"
[[ -s "$tok" ]] || { echo "FAIL: train wrote no artifact"; failures=$((failures + 1)); }

# Exact round trip of arbitrary bytes (invalid UTF-8 included) through the CLI.
"$alpha" tokenizer encode --tokenizer="$tok" --input="$tmp/random.bin" > "$tmp/ids" &&
  "$alpha" tokenizer decode --tokenizer="$tok" < "$tmp/ids" > "$tmp/back" &&
  cmp -s "$tmp/back" "$tmp/random.bin" && grep -qE '^[0-9]+( [0-9]+)*$' "$tmp/ids" &&
  echo "ok: encode/decode round trip of random bytes" ||
  { echo "FAIL: encode/decode round trip of random bytes"; failures=$((failures + 1)); }
STDIN="$tmp/text.txt" expect_ok "encode from stdin" "$alpha" tokenizer encode --tokenizer="$tok"
expect_ok "stats" "$alpha" tokenizer stats --tokenizer="$tok" --input="$tmp/text.txt"

# Training: bad inputs, and no artifact left behind.
expect_fail "train: missing path" "no such file" \
  "$alpha" tokenizer train --input="$tmp/missing.txt" --output="$tmp/t1.bin"
expect_fail "train: empty file" "file is empty" \
  "$alpha" tokenizer train --input="$tmp/empty.txt" --output="$tmp/t1.bin"
expect_fail "train: binary file" "binary" \
  "$alpha" tokenizer train --input="$tmp/binary.bin" --output="$tmp/t1.bin"
expect_fail "train: vocab too small" "smaller than 256" \
  "$alpha" tokenizer train --input="$tmp/text.txt" --vocab-size=200 --output="$tmp/t1.bin"
expect_fail "train: jsonl without text" 'notext.jsonl:2: JSON line has no "text" field' \
  "$alpha" tokenizer train --input="$tmp/notext.jsonl" --output="$tmp/t1.bin"
expect_fail "train: glob without match" "matches no files" \
  "$alpha" tokenizer train --input="$tmp/*.nothing" --output="$tmp/t1.bin"
expect_fail "train: existing output" "already exists" \
  "$alpha" tokenizer train --input="$tmp/text.txt" --output="$tok"
[[ ! -e "$tmp/t1.bin" ]] || { echo "FAIL: a failed train left $tmp/t1.bin"; failures=$((failures + 1)); }

# Tokenizer files: missing, corrupt, not a tokenizer.
python3 - "$tok" "$tmp/corrupt.bin" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) // 2] ^= 0x20
open(sys.argv[2], "wb").write(b)
PY
STDIN="$tmp/text.txt" expect_fail "encode: corrupt artifact" "corrupt" \
  "$alpha" tokenizer encode --tokenizer="$tmp/corrupt.bin"
STDIN="$tmp/text.txt" expect_fail "encode: missing tokenizer" "not found" \
  "$alpha" tokenizer encode --tokenizer="$tmp/none.bin"
STDIN="$tmp/text.txt" expect_fail "encode: not a tokenizer" "not a tokenizer" \
  "$alpha" tokenizer encode --tokenizer="$tmp/text.txt"
expect_fail "encode: empty input" "input is empty" \
  "$alpha" tokenizer encode --tokenizer="$tok" --input="$tmp/empty.txt"
expect_fail "encode: missing input" "no such file" \
  "$alpha" tokenizer encode --tokenizer="$tok" --input="$tmp/missing.txt"
echo "1 2 999999" > "$tmp/bad_ids"
expect_fail "decode: id out of range" "outside the vocabulary" \
  "$alpha" tokenizer decode --tokenizer="$tok" --input="$tmp/bad_ids"
echo "1 2 x3" > "$tmp/bad_ids"
expect_fail "decode: not a number" "not a token id" \
  "$alpha" tokenizer decode --tokenizer="$tok" --input="$tmp/bad_ids"

# Data preparation: load-or-train, cache, and bad inputs leave the cache untouched.
cache="$tmp/cache"
expect_ok "data prepare (trains the tokenizer)" "$alpha" data prepare --input="$tmp/text.txt" \
  --input="$tmp/good.jsonl" --tokenizer-artifacts="$tmp/art.bin" --vocab-size=700 --cache-dir="$cache"
grep -q "trained and saved" "$tmp/out" || { echo "FAIL: first prepare did not train"; failures=$((failures + 1)); }
expect_ok "data prepare (cached)" "$alpha" data prepare --input="$tmp/text.txt" \
  --input="$tmp/good.jsonl" --tokenizer-artifacts="$tmp/art.bin" --cache-dir="$cache"
grep -q "^loaded" "$tmp/out" && grep -q "^cached:" "$tmp/out" ||
  { echo "FAIL: second prepare did not load and hit the cache"; cat "$tmp/out"; failures=$((failures + 1)); }
before=$(ls -A "$cache" | wc -l)
expect_fail "data prepare: jsonl without text" '"text" field' \
  "$alpha" data prepare --input="$tmp/notext.jsonl" --tokenizer="$tok" --cache-dir="$cache"
expect_fail "data prepare: binary file" "binary" \
  "$alpha" data prepare --input="$tmp/binary.bin" --tokenizer="$tok" --cache-dir="$cache"
expect_fail "data prepare: missing path" "no such file" \
  "$alpha" data prepare --input="$tmp/missing" --tokenizer="$tok" --cache-dir="$cache"
expect_fail "data prepare: corrupt tokenizer" "corrupt" \
  "$alpha" data prepare --input="$tmp/text.txt" --tokenizer="$tmp/corrupt.bin" --cache-dir="$cache"
after=$(ls -A "$cache" | wc -l)
[[ $before -eq $after ]] || { echo "FAIL: failed prepares changed the cache folder"; failures=$((failures + 1)); }

echo "$failures failure(s)"
[[ $failures -eq 0 ]]
