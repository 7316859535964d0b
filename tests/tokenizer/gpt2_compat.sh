#!/usr/bin/env bash
# GPT-2 compatibility: `alpha tokenizer encode --tokenizer=data/gpt2` must produce exactly the
# ids of gpt-3-encoder's own JavaScript encoder, on the whole sample corpus (Brown + nlp-corpus),
# the edge-case file and seeded random Unicode text. Usage: gpt2_compat.sh ALPHA SOURCE_ROOT
set -euo pipefail
alpha="$1"
root="$2"
here="$root/tests/tokenizer"
data="$root/data"

for f in "$data/gpt2/Encoder.js" "$data/gpt2/encoder.json" "$data/gpt2/vocab.bpe" "$data/brown.txt" "$data/nlp-corpus.txt"; do
  if [[ ! -s "$f" ]]; then
    if [[ "${CI:-}" == "true" ]]; then
      echo "FAIL: $f is missing; CI must run scripts/fetch-data first" >&2
      exit 1
    fi
    echo "SKIP: $f is missing (run scripts/fetch-data)"
    exit 77
  fi
done
command -v node >/dev/null || { echo "FAIL: node is required for the reference encoder" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node "$here/gpt2_reference.js" x "--random=20241123:4000" > "$tmp/random.txt"

status=0
for input in "$data/brown.txt" "$data/nlp-corpus.txt" "$here/gpt2_edge_cases.txt" "$tmp/random.txt"; do
  name="$(basename "$input")"
  node "$here/gpt2_reference.js" "$data/gpt2/Encoder.js" "$input" > "$tmp/ref"
  "$alpha" tokenizer encode --tokenizer="$data/gpt2" --input="$input" > "$tmp/ours"
  if cmp -s "$tmp/ref" "$tmp/ours"; then
    echo "ok: $name: $(wc -w < "$tmp/ref") ids identical"
  else
    status=1
    python3 - "$tmp/ref" "$tmp/ours" "$name" <<'PY'
import sys
ref, ours, name = open(sys.argv[1]).read().split(), open(sys.argv[2]).read().split(), sys.argv[3]
i = next((k for k in range(min(len(ref), len(ours))) if ref[k] != ours[k]), min(len(ref), len(ours)))
print(f"FAIL: {name}: {len(ref)} reference ids vs {len(ours)} ours; first difference at {i}:")
print("  reference:", " ".join(ref[max(0, i - 5):i + 10]))
print("  ours:     ", " ".join(ours[max(0, i - 5):i + 10]))
PY
  fi
  # Round trip through decode as well.
  "$alpha" tokenizer decode --tokenizer="$data/gpt2" --input="$tmp/ours" > "$tmp/back"
  cmp -s "$tmp/back" "$input" || { echo "FAIL: $name: decode(encode(x)) != x"; status=1; }
done
exit $status
