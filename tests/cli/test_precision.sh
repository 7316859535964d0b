#!/usr/bin/env bash
# Mixed precision end to end: a d2 run with --precision=fp16 on the tiny corpus trains, its
# validation loss stays within 0.05 nats of the same run in fp32, config.json and metrics.jsonl say
# fp16 and carry the loss scale, resuming it from a checkpoint gives bit-identical losses (the loss
# scale is in the checkpoint), its fp32 checkpoints sample and evaluate, and bad precisions are
# refused in one line. Usage: test_precision.sh PATH/TO/alpha
set -u
alpha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/common.sh"

make_corpus "$work/corpus.txt"
run() {
  "$alpha" train --runs-dir "$work/runs" --cache-dir "$work/cache" --data "$work/corpus.txt" --model d2 --batch 4 \
    --seq 32 --vocab 300 --warmup 5 --lr 3e-3 --eval-every 30 --eval-batches 4 --sample-every 0 --ckpt-every 15 "$@"
}

if "$alpha" devices | grep -q "16-bit storage yes"; then
  run --steps 60 --precision fp32 --run full >/dev/null 2>&1 || fail "fp32 run"
  run --steps 60 --precision fp16 --run half >/dev/null 2>&1 || fail "fp16 run"
  /usr/bin/python3 - "$work/runs" <<'PY' && pass "fp16 trains, its validation loss within 0.05 nats of fp32's" || fail "fp16 against fp32"
import json, sys
runs = sys.argv[1]
def lines(run):
    return [json.loads(l) for l in open(f"{runs}/{run}/metrics.jsonl")]
full, half = lines("full"), lines("half")
assert json.load(open(f"{runs}/half/config.json"))["precision_used"] == "fp16"
assert json.load(open(f"{runs}/full/config.json"))["precision_used"] == "fp32"
assert all(l["loss_scale"] == 65536 for l in half), "no overflow at this size, no growth before 2000 steps"
assert all("loss_scale" not in l for l in full)
val_full, val_half = full[-1]["val_loss"], half[-1]["val_loss"]
print(f"validation loss at step 60: fp32 {val_full:.4f}, fp16 {val_half:.4f}")
assert half[-1]["val_loss"] < half[29]["val_loss"] < half[0]["loss"], "it learned"
assert abs(val_half - val_full) < 0.05, (val_full, val_half)
assert half != full, "fp16 changed something"
PY
  # resume from the step-30 checkpoint: the same losses, bit for bit, from step 31 on
  cp -r "$work/runs/half" "$work/runs/resumed"
  rm "$work/runs/resumed/checkpoints/step-00000045.ckpt" "$work/runs/resumed/checkpoints/step-00000060.ckpt"
  sed -i 's/"run": "half"/"run": "resumed"/' "$work/runs/resumed/config.json"
  "$alpha" train --resume="$work/runs/resumed" >/dev/null 2>&1 || fail "resume"
  cmp <(cut -d, -f1-2 "$work/runs/half/metrics.jsonl") <(cut -d, -f1-2 "$work/runs/resumed/metrics.jsonl") >/dev/null &&
    pass "an fp16 run resumes bit-identically" || fail "fp16 resume differs"
  text=$("$alpha" sample --runs-dir "$work/runs" --run half --prompt "the quick" --max-tokens 12 --temperature 0 2>/dev/null)
  [[ "$text" == "the quick"* ]] && pass "an fp16 run's checkpoint samples" || fail "sample: $text"
  "$alpha" eval --runs-dir "$work/runs" --run half --json 2>/dev/null | grep -q '"loss"' && pass "and evaluates" ||
    fail "eval of the fp16 run"
else
  echo "skip: the device has no 16-bit storage"
fi

expect_fail "bf16 is refused" "bf16 is not built yet" run --steps 2 --precision bf16 --run bf16
expect_fail "an unknown precision is refused" "is not one of" run --steps 2 --precision fp8 --run fp8
[ ! -e "$work/runs/bf16" ] && [ ! -e "$work/runs/fp8" ] && pass "and leave no run" || fail "refused runs left files"
summary
