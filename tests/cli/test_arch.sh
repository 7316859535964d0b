#!/usr/bin/env bash
# --arch=modern end to end on lavapipe: a d2 run trains with a falling loss and records its
# architecture in config.json and every checkpoint; resuming from a middle checkpoint logs
# bit-identical losses; `alpha sample` and `alpha eval` read the run; export (GPT-2 files only) and
# an unknown --arch are refused in one line. Usage: test_arch.sh PATH/TO/alpha
set -u
alpha=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/common.sh"

make_corpus "$work/corpus.txt"
runs=(--runs-dir "$work/runs")
train() {
  "$alpha" train "${runs[@]}" --cache-dir "$work/cache" --data "$work/corpus.txt" --arch modern --model d2 \
    --batch 4 --seq 32 --vocab 300 --warmup 5 --lr 3e-3 --eval-every 20 --eval-batches 2 --sample-every 0 "$@"
}
losses() { /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["step"], json.loads(l)["loss"]) for l in open(sys.argv[1])]' "$1"; }

if train --steps 60 --ckpt-every 20 --keep 5 --run modern >/dev/null 2>"$work/train.err"; then
  pass "alpha train --arch=modern --model=d2"
else
  fail "train: $(cat "$work/train.err")"
fi
/usr/bin/python3 - "$work/runs/modern" <<'PY' && pass "config.json holds the architecture; the loss falls" || fail "architecture or loss"
import json, sys
d = sys.argv[1]
config = json.load(open(f"{d}/config.json"))
arch = config["architecture"]
want = {"pos": "rope", "norm": "rmsnorm", "norm_params": False, "mlp": "relu2", "qk_norm": True,
        "tie_embeddings": False, "logit_softcap": 15.0, "n_kv_head": 1}  # d2: 2 heads, grouped
assert all(arch[k] == v for k, v in want.items()), arch
assert config["arch"] == "modern", config["arch"]
lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
first, last = lines[0]["loss"], lines[-1]["loss"]
assert last < first - 1.0, (first, last)
print(f"loss {first:.3f} -> {last:.3f}")
PY

# Resume from the step-20 checkpoint: the later checkpoints are removed, and steps 21..60 must log
# the same losses bit for bit.
cp "$work/runs/modern/metrics.jsonl" "$work/straight.jsonl"
rm -f "$work/runs/modern/checkpoints/step-00000040.ckpt" "$work/runs/modern/checkpoints/step-00000060.ckpt"
if "$alpha" train --resume=modern "${runs[@]}" >/dev/null 2>"$work/resume.err" &&
  diff <(losses "$work/straight.jsonl") <(losses "$work/runs/modern/metrics.jsonl") >/dev/null; then
  pass "resume of a modern run from step 20 is bit-identical"
else
  fail "resume: $(cat "$work/resume.err")"
fi

out=$("$alpha" sample "${runs[@]}" --run modern --prompt "the quick" --max-tokens 20 --temperature 0 2>/dev/null)
[[ "$out" == "the quick"* ]] && pass "sample from a modern run" || fail "sample: $out"
ev=$("$alpha" eval "${runs[@]}" --run modern --json 2>/dev/null)
/usr/bin/python3 -c 'import json,math,sys; r=json.loads(sys.argv[1]); assert math.isfinite(r["loss"]) and r["loss"] < 4, r' "$ev" &&
  pass "eval of a modern run" || fail "eval: $ev"

expect_fail "export of a modern run is refused" "GPT-2 files only" "$alpha" export "${runs[@]}" --run modern \
  --out "$work/export"
expect_fail "an unknown --arch" "unknown architecture 'llama'" "$alpha" train "${runs[@]}" --data "$work/corpus.txt" \
  --arch llama --steps 1
summary
