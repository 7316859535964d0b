#!/usr/bin/env bash
# `alpha train` end to end on a tiny generated corpus: the run directory, config.json, metrics.jsonl
# with a falling loss, and bad input (no data, empty data, an existing run, bad options) -> one clear
# line, a non-zero exit and no run directory left behind. Usage: test_train.sh PATH/TO/alpha
set -u
alpha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/common.sh"

make_corpus "$work/corpus.txt"
run() { "$alpha" train --runs-dir "$work/runs" --cache-dir "$work/cache" "$@"; }

out=$(run --data "$work/corpus.txt" --model d1 --steps 40 --batch 4 --seq 32 --vocab 300 --warmup 5 \
  --lr 3e-3 --eval-every 20 --eval-batches 2 --run tiny --validate 2>&1)
rc=$?
dir="$work/runs/tiny"
if [ $rc -eq 0 ] && [ -f "$dir/config.json" ] && [ -f "$dir/tokenizer.bin" ] && ! grep -q "validation" <<<"$out"; then
  pass "train writes a run directory"
else
  fail "train: rc=$rc $out"
fi
/usr/bin/python3 - "$dir" <<'PY' && pass "config.json and metrics.jsonl are complete and the loss falls" || fail "run files"
import json, math, sys
d = sys.argv[1]
config = json.load(open(f"{d}/config.json"))
for key in ("run", "data", "model", "n_layer", "vocab_size", "steps", "batch", "seq", "lr", "git_commit", "device"):
    assert key in config, key
lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
assert [l["step"] for l in lines] == list(range(1, 41)), "one line per step"
assert all(math.isfinite(l["loss"]) and l["loss"] > 0 for l in lines)
assert sum(1 for l in lines if "val_loss" in l) == 2, "validation at steps 20 and 40"
first = sum(l["loss"] for l in lines[:5]) / 5
last = sum(l["loss"] for l in lines[-5:]) / 5
assert last < first - 0.5, (first, last)
PY

# expect_fail NAME PATTERN ARGS...: non-zero exit, one stderr line matching PATTERN, no run "bad" left.
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  local err
  err=$(run "$@" 2>&1 >/dev/null)
  local rc=$?
  if [ $rc -eq 0 ]; then fail "$name: exit 0"; return; fi
  if ! grep -q -- "$pattern" <<<"$err" || [ "$(wc -l <<<"$err")" -ne 1 ]; then fail "$name: $err"; return; fi
  if [ -e "$work/runs/bad" ]; then fail "$name: left runs/bad behind"; return; fi
  pass "$name"
}
: >"$work/empty.txt"
expect_fail "missing data" "no such file" --data "$work/missing.txt" --run bad
expect_fail "empty data" "empty" --data "$work/empty.txt" --run bad
expect_fail "existing run" "already exists" --data "$work/corpus.txt" --run tiny
expect_fail "zero steps" "--steps must be positive" --data "$work/corpus.txt" --steps 0 --run bad
expect_fail "bad model" "unknown model preset" --data "$work/corpus.txt" --model q9 --run bad
expect_fail "bad schedule" "--schedule=step" --data "$work/corpus.txt" --schedule step --run bad

summary
