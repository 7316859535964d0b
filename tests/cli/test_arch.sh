#!/usr/bin/env bash
# --arch=modern end to end on lavapipe: a d2 run trains with a falling loss and records its
# architecture in config.json and every checkpoint; resuming from a middle checkpoint logs
# bit-identical losses; `alpha sample` and `alpha eval` read the run; export (GPT-2 files only) and
# an unknown --arch are refused in one line. The same for --mlp=swiglu on top of it (train, config,
# resume, sample, both exports refused), and an unknown --mlp. Usage: test_arch.sh PATH/TO/alpha
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

# train_run NAME STEPS FLAGS...: run NAME trains for STEPS steps (a checkpoint every 20).
train_run() {
  local name=$1 steps=$2
  shift 2
  if train --steps "$steps" --ckpt-every 20 --keep 5 --run "$name" "$@" >/dev/null 2>"$work/$name.err"; then
    pass "run $name: alpha train --arch=modern --model=d2${*:+ $*}"
  else
    fail "train $name: $(cat "$work/$name.err")"
  fi
}

# check_config NAME PYTHON: PYTHON asserts on `config` (the run's config.json); the loss must fall.
check_config() {
  /usr/bin/python3 - "$work/runs/$1" "$2" <<'PY' && pass "config.json of $1 holds its architecture; the loss falls" ||
import json, sys
d = sys.argv[1]
config = json.load(open(f"{d}/config.json"))
exec(sys.argv[2])
lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
first, last = lines[0]["loss"], lines[-1]["loss"]
assert last < first - 1.0, (first, last)
print(f"loss {first:.3f} -> {last:.3f}")
PY
    fail "architecture or loss of $1"
}

# resume_and_sample NAME: with the checkpoints after step 20 removed, resuming run NAME must log the
# same losses for the later steps bit for bit (the model rebuilt from config.json); then it samples.
resume_and_sample() {
  local name=$1
  cp "$work/runs/$name/metrics.jsonl" "$work/$name-straight.jsonl"
  find "$work/runs/$name/checkpoints" -name 'step-*.ckpt' ! -name 'step-00000020.ckpt' -delete
  if "$alpha" train --resume="$name" "${runs[@]}" >/dev/null 2>"$work/$name-resume.err" &&
    diff <(losses "$work/$name-straight.jsonl") <(losses "$work/runs/$name/metrics.jsonl") >/dev/null; then
    pass "resume of run $name from step 20 is bit-identical"
  else
    fail "resume $name: $(cat "$work/$name-resume.err")"
  fi
  local out
  out=$("$alpha" sample "${runs[@]}" --run "$name" --prompt "the quick" --max-tokens 20 --temperature 0 2>/dev/null)
  [[ "$out" == "the quick"* ]] && pass "sample from run $name" || fail "sample $name: $out"
}

train_run modern 60
check_config modern '
arch = config["architecture"]
want = {"pos": "rope", "norm": "rmsnorm", "norm_params": False, "mlp": "relu2", "qk_norm": True,
        "tie_embeddings": False, "logit_softcap": 15.0, "n_kv_head": 1}  # d2: 2 heads, grouped
assert all(arch[k] == v for k, v in want.items()), arch
assert config["arch"] == "modern", config["arch"]
'
resume_and_sample modern
ev=$("$alpha" eval "${runs[@]}" --run modern --json 2>/dev/null)
/usr/bin/python3 -c 'import json,math,sys; r=json.loads(sys.argv[1]); assert math.isfinite(r["loss"]) and r["loss"] < 4, r' "$ev" &&
  pass "eval of a modern run" || fail "eval: $ev"

expect_fail "export of a modern run is refused" "GPT-2 files only" "$alpha" export "${runs[@]}" --run modern \
  --out "$work/export"

# --mlp=swiglu over --arch=modern (a Llama-like mix): config.json records it (the option and the
# architecture) and the parameters of its widths; resume and sample read it back; both exports refuse it.
train_run swiglu 40 --mlp swiglu
check_config swiglu '
assert config["architecture"]["mlp"] == "swiglu" and config["mlp"] == "swiglu", config
assert config["architecture"]["pos"] == "rope", config["architecture"]
# d2: C = 128, H = 384; per block qkv (2 + 2·1 heads)·64 = 256 rows, attention c_proj, c_fc (2H = 768
# rows), mlp c_proj (C, H); no norm parameters; wte and the untied lm_head (V, C)
block = 256 * 128 + 256 + 128 * 128 + 128 + 768 * 128 + 768 + 128 * 384 + 128
assert config["parameters"] == 2 * config["vocab_size"] * 128 + 2 * block, config["parameters"]
'
resume_and_sample swiglu
expect_fail "safetensors export of a swiglu run is refused" "GPT-2 files only" "$alpha" export "${runs[@]}" \
  --run swiglu --out "$work/export"
expect_fail "GGUF export of a swiglu run is refused" "gpt2 architecture only" "$alpha" export "${runs[@]}" \
  --run swiglu --format gguf --out "$work/export"

expect_fail "an unknown --arch" "unknown architecture 'llama'" "$alpha" train "${runs[@]}" --data "$work/corpus.txt" \
  --arch llama --steps 1
expect_fail "an unknown --mlp" "unknown MLP 'bogus'" "$alpha" train "${runs[@]}" --data "$work/corpus.txt" \
  --mlp bogus --steps 1
summary
