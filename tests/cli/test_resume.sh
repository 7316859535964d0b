#!/usr/bin/env bash
# Checkpoints and exact resume: a run killed with SIGKILL part-way and resumed (with its newest
# checkpoint corrupted, so the previous one is used) logs bit-identical losses to an uninterrupted run
# and removes the partial checkpoint files killed writers left;
# a run whose checkpoints are all truncated or corrupt is refused; Ctrl-C (SIGINT) saves a checkpoint;
# a run directory changed to another model config or tokenizer is refused; a checkpoint write that
# fails (file size limit, as on a full disk) stops the run with a clear error and leaves the earlier
# checkpoints as they were and no partial file.
# Usage: test_resume.sh PATH/TO/alpha
set -u
alpha=$1
work=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
pid=
source "$(dirname "$0")/common.sh"

make_corpus "$work/corpus.txt"
# exec: when run in the background, $! is alpha itself, so kill reaches it (not a subshell).
train() {
  exec "$alpha" train --runs-dir "$work/runs" --cache-dir "$work/cache" --data "$work/corpus.txt" --model d1 \
    --batch 4 --seq 32 --vocab 300 --warmup 5 --eval-every 0 --keep 3 "$@"
}
losses() { /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["step"], json.loads(l)["loss"]) for l in open(sys.argv[1])]' "$1"; }

(train --steps 300 --ckpt-every 7 --run straight >/dev/null 2>&1) || fail "uninterrupted run"

# The same run, killed once it is past step 60, then resumed.
train --steps 300 --ckpt-every 7 --run killed >/dev/null 2>&1 &
pid=$!
wait_for 300 has_steps "$work/runs/killed/metrics.jsonl" 60
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
killed_at=$(steps_done "$work/runs/killed/metrics.jsonl")
if [ "$killed_at" -ge 60 ] && [ "$killed_at" -lt 300 ]; then pass "killed part-way (after step $killed_at)"; else fail "kill at $killed_at"; fi
# (the kill may land mid-write and leave that write's NAME.ckpt.tmpPID; a stale one is planted so the
# clean-up below always has one to remove)
ckpts=$(ls "$work/runs/killed/checkpoints"/*.ckpt)
[ "$(wc -l <<<"$ckpts")" -le 3 ] && pass "keeps at most 3 checkpoints" || fail "checkpoints: $ckpts"
head -c 100 "$(head -1 <<<"$ckpts")" >"$work/runs/killed/checkpoints/step-00000001.ckpt.tmp4194305"
newest=$(ls "$work/runs/killed/checkpoints"/*.ckpt | tail -1)
/usr/bin/python3 - "$newest" <<'PY'  # flip one byte in the middle of the newest checkpoint
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x40
open(path, "wb").write(data)
PY
err=$("$alpha" train --resume=killed --runs-dir "$work/runs" 2>&1 >/dev/null)
rc=$?
if [ $rc -eq 0 ] && grep -q "warning: checkpoint .* is corrupt" <<<"$err"; then
  pass "a corrupt newest checkpoint is skipped with a warning"
else
  fail "resume: rc=$rc $err"
fi
if diff <(losses "$work/runs/straight/metrics.jsonl") <(losses "$work/runs/killed/metrics.jsonl") >/dev/null; then
  pass "losses after SIGKILL + resume are bit-identical to the uninterrupted run"
else
  fail "losses differ: $(diff <(losses "$work/runs/straight/metrics.jsonl") <(losses "$work/runs/killed/metrics.jsonl") | head -4)"
fi
leftovers=$(ls "$work/runs/killed/checkpoints" | grep -F .tmp)
[ -z "$leftovers" ] && pass "partial writes of a killed run are removed" || fail "left over: $leftovers"

# Every checkpoint truncated or corrupt: refused, nothing trained.
(train --steps 14 --ckpt-every 7 --run broken >/dev/null 2>&1)
for f in "$work/runs/broken/checkpoints"/*.ckpt; do head -c 1000 "$f" >"$f.cut" && mv "$f.cut" "$f"; done
err=$("$alpha" train --resume=broken --runs-dir "$work/runs" 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ] && grep -q "truncated" <<<"$err" && grep -q "has no valid checkpoint" <<<"$(tail -1 <<<"$err")"; then
  pass "truncated checkpoints are refused with a clear message"
else
  fail "broken resume: rc=$rc $err"
fi

# Bad --resume targets.
err=$("$alpha" train --resume=nope --runs-dir "$work/runs" 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q "no such run" <<<"$err" && pass "--resume of a missing run" || fail "missing run: $err"
err=$("$alpha" train --resume --runs-dir "$work/empty-runs" 2>&1 >/dev/null)
[ $? -ne 0 ] && grep -q "no run under" <<<"$err" && pass "--resume with no runs" || fail "no runs: $err"

# SIGINT: checkpoint after the current step, clean exit, resumable.
train --steps 100000 --ckpt-every 0 --run interrupted >/dev/null 2>"$work/int.err" &
pid=$!
wait_for 300 has_steps "$work/runs/interrupted/metrics.jsonl" 5 || fail "SIGINT: no 5 steps within 300 s"
kill -INT $pid
wait $pid
rc=$?
n=$(steps_done "$work/runs/interrupted/metrics.jsonl")
if [ $rc -eq 0 ] && [ -f "$(printf '%s/runs/interrupted/checkpoints/step-%08d.ckpt' "$work" "$n")" ] && grep -q "checkpoint saved" "$work/int.err"; then
  pass "Ctrl-C saves a checkpoint at step $n and exits cleanly"
else
  fail "SIGINT: rc=$rc steps=$n $(cat "$work/int.err")"
fi

# A run directory whose config or tokenizer no longer matches its checkpoints is refused.
refused() {  # NAME PATTERN RUN
  local err
  err=$(timeout 120 "$alpha" train --resume="$3" --runs-dir "$work/runs" 2>&1 >/dev/null)  # a bug would train on
  if [ $? -ne 0 ] && grep -q -- "$2" <<<"$err" && [ "$(wc -l <<<"$err")" -eq 1 ]; then pass "$1"; else fail "$1: $err"; fi
}
cp -r "$work/runs/interrupted" "$work/runs/othermodel"
sed -i 's/"model": "d1"/"model": "d2"/' "$work/runs/othermodel/config.json"
refused "resume with another model config is refused" "another model config" othermodel
cp -r "$work/runs/interrupted" "$work/runs/othertok"
"$alpha" tokenizer train --input "$work/corpus.txt" --output "$work/runs/othertok/tokenizer.bin" --vocab-size 280 \
  --force >/dev/null 2>&1
refused "resume with another tokenizer is refused" "another tokenizer" othertok

# A checkpoint write that fails: the file size limit (EFBIG, as ENOSPC on a full disk) hits the next
# checkpoint of a resumed run. Earlier checkpoints stay byte-identical; no partial file is left.
train --steps 100000 --ckpt-every 10 --run full >/dev/null 2>&1 &
pid=$!
wait_for 300 test -f "$work/runs/full/checkpoints/step-00000020.ckpt" || fail "full disk: no step-20 checkpoint within 300 s"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
before=$(cd "$work/runs/full/checkpoints" && md5sum *)
ckpt_kb=$(( $(stat -c %s "$work/runs/full/checkpoints/step-00000020.ckpt") / 1024 ))
err=$(trap '' XFSZ; ulimit -f $((ckpt_kb / 2)); "$alpha" train --resume=full --runs-dir "$work/runs" 2>&1 >/dev/null)
rc=$?
after=$(cd "$work/runs/full/checkpoints" && md5sum *)
if [ $rc -ne 0 ] && grep -q "cannot write checkpoint" <<<"$err" && [ "$(wc -l <<<"$err")" -eq 1 ] &&
  [ "$before" = "$after" ]; then
  pass "a failed checkpoint write is a clear error; earlier checkpoints untouched, no partial file"
else
  fail "full disk: rc=$rc $err; before: $before; after: $after"
fi

summary
