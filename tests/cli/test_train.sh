#!/usr/bin/env bash
# `alpha train` end to end on a tiny generated corpus: the run directory, config.json, metrics.jsonl
# with a falling loss, samples.txt and the best checkpoint; `alpha sample` from the run; a JSON config
# file under command-line flags; non-finite steps skipped and the run stopped with a checkpoint; and
# bad input (no data, empty data, an existing run, bad options, bad config files) -> one clear line, a
# non-zero exit and no run directory left behind. Usage: test_train.sh PATH/TO/alpha
set -u
alpha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/common.sh"

make_corpus "$work/corpus.txt"
run() { "$alpha" train --runs-dir "$work/runs" --cache-dir "$work/cache" "$@"; }

out=$(run --data "$work/corpus.txt" --model d1 --steps 40 --batch 4 --seq 32 --vocab 300 --warmup 5 \
  --lr 3e-3 --eval-every 20 --eval-batches 2 --sample-every 20 --run tiny --validate 2>&1)
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
assert all(l["memory_mb"] > 0 and 0 < l["mfu"] and math.isfinite(l["mfu"]) for l in lines)
samples = open(f"{d}/samples.txt").read()
assert samples.count("--- step ") == 2 and "--- step 40" in samples, samples
PY
[ -f "$dir/checkpoints/best.ckpt" ] && pass "best.ckpt is kept" || fail "no best.ckpt: $(ls "$dir/checkpoints")"

# alpha sample: streams the prompt and its continuation; the seed decides the draws.
sample() { "$alpha" sample --runs-dir "$work/runs" --run tiny --prompt "the quick" --max-tokens 30 "$@" 2>/dev/null; }
one=$(sample --seed 3) && two=$(sample --seed 3) && greedy=$(sample --temperature 0)
if [ -n "$one" ] && [ "$one" = "$two" ] && [[ "$one" == "the quick"* ]] && [ ${#one} -gt 20 ] && [[ "$greedy" == "the quick"* ]]; then
  pass "sample continues the prompt, same seed same text"
else
  fail "sample: '$one' / '$two' / '$greedy'"
fi
best=$(sample --checkpoint best --temperature 0) && [[ "$best" == "the quick"* ]] && pass "sample --checkpoint best" ||
  fail "sample best: $best"
sample_fails() {  # NAME PATTERN ARGS...
  local name=$1 pattern=$2 err
  shift 2
  err=$("$alpha" sample --runs-dir "$work/runs" "$@" 2>&1 >/dev/null)
  if [ $? -ne 0 ] && grep -q -- "$pattern" <<<"$err" && [ "$(wc -l <<<"$err")" -eq 1 ]; then pass "$name"; else fail "$name: $err"; fi
}
sample_fails "sample of a missing run" "no such run" --run nope --prompt x
sample_fails "sample with a bad temperature" "--temperature" --run tiny --prompt x --temperature -1
sample_fails "sample of a missing checkpoint" "no checkpoint at step 999" --run tiny --prompt x --checkpoint 999
cp -r "$work/runs/tiny" "$work/runs/reshaped"
sed -i 's/"n_layer": 1,/"n_layer": 2,/' "$work/runs/reshaped/config.json"
sample_fails "sample of a run whose config no longer fits its checkpoints" "another model config" --run reshaped --prompt x

# A JSON config file gives the options; a flag on the command line wins over it.
printf '{"model": "d1", "steps": 30, "batch": 2, "seq": 32, "vocab": 300, "eval_every": 0, "sample_every": 0}\n' \
  >"$work/config.json"
if run --config "$work/config.json" --data "$work/corpus.txt" --steps 6 --run fromfile >/dev/null 2>&1 &&
  /usr/bin/python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert (c["steps"],c["batch"],c["seq"],c["model"])==(6,2,32,"d1"), c' \
    "$work/runs/fromfile/config.json"; then
  pass "config file options, command line wins"
else
  fail "config file"
fi

# --tokens sets the steps and --eval-tokens the validation batches; --grad-accum steps once per 2 micro-batches.
if run --data "$work/corpus.txt" --model d1 --batch 2 --seq 32 --vocab 300 --grad-accum 2 --tokens 640 --eval-every 5 \
  --eval-tokens 100 --sample-every 0 --run accum >/dev/null 2>&1 && /usr/bin/python3 - "$work/runs/accum" <<'PY'
import json, sys
c = json.load(open(f"{sys.argv[1]}/config.json"))
assert (c["steps"], c["grad_accum"], c["eval_batches"]) == (5, 2, 2), c  # 640 / (2·32·2); 100 / (2·32), rounded up
lines = [json.loads(l) for l in open(f"{sys.argv[1]}/metrics.jsonl")]
assert [l["step"] for l in lines] == [1, 2, 3, 4, 5] and "val_loss" in lines[-1], lines
PY
then
  pass "--tokens, --eval-tokens and --grad-accum"
else
  fail "--tokens/--grad-accum"
fi

# Non-finite steps: an absurd learning rate blows the weights up; each NaN step is skipped, and after
# --max-bad-steps in a row the run stops with an error and a checkpoint of the untouched weights.
err=$(run --data "$work/corpus.txt" --model d1 --batch 4 --seq 32 --vocab 300 --warmup 1 --steps 40 --eval-every 0 \
  --sample-every 0 --lr 1e30 --min-lr 0 --max-bad-steps 3 --run blowup 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ] && grep -q "3 steps in a row had a non-finite loss or gradient" <<<"$err" &&
  [ "$(grep -c "step skipped" <<<"$err")" -eq 3 ] && /usr/bin/python3 - "$work/runs/blowup" <<'PY'
import json, os, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
assert [l.get("skipped", False) for l in lines[-3:]] == [True] * 3, lines
assert os.path.exists(f"{d}/checkpoints/step-{lines[-1]['step']:08}.ckpt")
PY
then
  pass "non-finite steps are skipped, counted, and stop the run with a checkpoint"
else
  fail "non-finite: rc=$rc $err"
fi

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
echo '{"stepz": 5}' >"$work/typo.json"
expect_fail "unknown key in a config file" 'has no option --stepz' --config "$work/typo.json" --data "$work/corpus.txt" --run bad
echo '{"steps": ' >"$work/broken.json"
expect_fail "malformed config file" "is not a JSON object" --config "$work/broken.json" --data "$work/corpus.txt" --run bad
expect_fail "missing config file" "cannot read config file" --config "$work/none.json" --data "$work/corpus.txt" --run bad

summary
