#!/usr/bin/env bash
# CLI checks for `alpha`: --help/--version, `alpha devices`, the single-binary link, the matmul
# benchmark (with --json, --record, --check), and bad input (no loader, no driver, bad device index,
# unwritable --json, malformed history) -> one clear line, exit != 0.
# Usage: test_cli.sh PATH/TO/alpha
set -u
alpha=$1
source "$(dirname "$0")/common.sh"

# expect_fail NAME PATTERN CMD...: CMD exits non-zero and prints one line on stderr matching PATTERN.
expect_fail() {
  local name=$1 pattern=$2
  shift 2
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -eq 0 ]; then fail "$name: exit 0, wanted non-zero"; return; fi
  if ! grep -q -- "$pattern" <<<"$err"; then fail "$name: stderr lacks '$pattern': $err"; return; fi
  if [ "$(wc -l <<<"$err")" -ne 1 ]; then fail "$name: stderr is not one line: $err"; return; fi
  pass "$name"
}

out=$("$alpha" --version) && grep -Eq '^alpha [0-9.]+ \(git [0-9a-f]{7,}' <<<"$out" &&
  pass "--version names the git commit" || fail "--version: $out"
out=$("$alpha" --help) && grep -q devices <<<"$out" && grep -q bench <<<"$out" &&
  pass "--help lists the commands" || fail "--help: $out"

out=$("$alpha" devices 2>&1)
if [ $? -eq 0 ] && grep -q llvmpipe <<<"$out" && grep -q "subgroup" <<<"$out" && grep -q "coopmat" <<<"$out"; then
  pass "devices lists llvmpipe with its capabilities"
else
  fail "devices: $out"
fi

libs=$(ldd "$alpha")
if grep -Eq 'libvulkan|libfmt|libzstd|libstdc\+\+|libgcc_s' <<<"$libs"; then
  fail "ldd shows a library that should be linked in or loaded at run time: $libs"
else
  pass "ldd shows only libc-level libraries"
fi

expect_fail "no Vulkan loader" "cannot load the Vulkan loader" env ALPHA_VULKAN_LOADER=/nonexistent/libvulkan.so.1 "$alpha" devices
expect_fail "no Vulkan driver" "no Vulkan" env VK_DRIVER_FILES=/nonexistent/icd.json VK_ICD_FILENAMES=/nonexistent/icd.json "$alpha" devices
expect_fail "--device 99" "there is no Vulkan device 99" "$alpha" --device 99 devices
expect_fail "bench --device 99" "there is no Vulkan device 99" "$alpha" bench --device 99 --size 8
expect_fail "ALPHA_DEVICE=abc" "ALPHA_DEVICE=abc is not a device index" env ALPHA_DEVICE=abc "$alpha" devices
expect_fail "bad tile" "is not BMxBNxBKxTMxTN" "$alpha" bench --tile 64x64 --size 8
expect_fail "unknown op" "unknown op 'attention'" "$alpha" bench --ops attention

out=$("$alpha" bench --ops matmul --size 67 --iters 2 --warmup 1 --validate 2>&1)
rc=$?
err=$(sed -n 's/.*max rel err \([0-9.e+-]*\).*/\1/p' <<<"$out")
if [ $rc -eq 0 ] && grep -q "naive" <<<"$out" && [ -n "$err" ] && ! grep -q "validation" <<<"$out" &&
   awk -v e="$err" 'BEGIN { exit !(e < 1e-5) }'; then
  pass "bench runs tiled and naive matmul and they agree ($err)"
else
  fail "bench: $out"
fi

out=$("$alpha" bench --ops train --model d1 --batch 2 --seq 16 --vocab 64 --iters 2 --warmup 1 --validate 2>&1)
if [ $? -eq 0 ] && grep -Eq '^d1 +2 +16 +64 +[0-9.]+ +[0-9.]+ +[0-9]+' <<<"$out" && grep -q "memory: parameters" <<<"$out" &&
   ! grep -q "validation" <<<"$out"; then
  pass "bench runs a training step and reports tokens/s and memory"
else
  fail "bench train: $out"
fi
expect_fail "bench bad model" "unknown model preset 'x7'" "$alpha" bench --ops train --model x7

# --json, --record and --check on a tiny run (no speed asserted: only shapes, signs and messages).
tmp=$(mktemp -d)
bench_small=("$alpha" bench --ops matmul,train --size 67 --model d1 --batch 2 --seq 16 --vocab 64 --iters 2 --warmup 1)
out=$(ALPHA_HISTORY=$tmp/history.csv "${bench_small[@]}" --json="$tmp/out.json" --record 2>&1)
if [ $? -eq 0 ] && /usr/bin/python3 -c '
import json, math, sys
j = json.load(open(sys.argv[1]))
def numbers(x):
    if isinstance(x, bool): return
    if isinstance(x, (int, float)): yield x
    elif isinstance(x, dict):
        for v in x.values(): yield from numbers(v)
    elif isinstance(x, list):
        for v in x: yield from numbers(v)
assert all(math.isfinite(v) and v >= 0 for v in numbers(j)), "a number is negative or not finite"
assert len(j["commit"]) >= 7 and j["time"]
assert all(j["device"][k] for k in ("name", "type", "driver", "driver_info"))
assert j["config"]["size"] == 67 and j["config"]["models"] == "d1"
assert j["peak_gflops"] > 0 and len(j["matmul"]) == 2
for m in j["matmul"]:
    assert all(m[k] > 0 for k in ("M", "N", "K", "median_ms", "min_ms", "max_ms", "gflops")), m
t, = j["train"]
for k in ("ms_per_step", "tokens_per_s", "mfu", "flops_per_step", "flops_per_s"): assert t[k] > 0, k
# d1, V=64, T=16: N = wte 64*64 + block 12*64^2+13*64 + ln_f 2*64 = 54208 (wpe not counted);
# per token 6N + 12*L*H*Q*T = 325248 + 12*1*1*64*16 = 337536; per step (B*T = 32) 10801152.
assert t["flops_per_step"] == 10801152, t["flops_per_step"]
assert t["memory_bytes"]["parameters"] > 0 and t["torch"] is None
' "$tmp/out.json" && [ "$(grep -c ',train d1 L1 H1 C64 V64 B2 T16,' "$tmp/history.csv")" -eq 3 ] &&
   [ "$(head -1 "$tmp/history.csv")" = "time,commit,device,driver,config,metric,value" ] &&
   [ "$(grep -c ',matmul 67x67x67 NN ' "$tmp/history.csv")" -eq 4 ]; then
  pass "bench --json writes every result (positive, finite, d1 FLOPs by hand) and --record appends rows"
else
  fail "bench --json/--record: $out $(cat "$tmp/out.json" "$tmp/history.csv" 2>&1)"
fi

# An immediate rerun may pass or fail on timing noise; a failure must name a metric and the margin.
err=$(ALPHA_HISTORY=$tmp/history.csv "${bench_small[@]}" --check 2>&1 >/dev/null)
rc=$?
if { [ $rc -eq 0 ] && [ -z "$err" ]; } ||
   { [ $rc -ne 0 ] && grep -Eq -- '--check: (median_ms|gflops|ms_per_step|tokens_per_s) of .*margin 15%' <<<"$err"; }; then
  pass "bench --check on an immediate rerun passes or names the regressed metric (rc $rc)"
else
  fail "bench --check rerun (rc $rc): $err"
fi

# An earlier row with an absurdly good tokens/s must fail --check, naming tokens_per_s. It is the only
# row of its history, so timing noise in the other metrics cannot be what gets named.
/usr/bin/python3 -c '
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
row = [r for r in rows if r[5] == "tokens_per_s"][-1]
row[0], row[6] = "2000-01-01T00:00:00Z", "1e15"
csv.writer(open(sys.argv[2], "w", newline="")).writerows([rows[0], row])
' "$tmp/history.csv" "$tmp/fake.csv"
expect_fail "bench --check names a regressed metric" "--check: tokens_per_s of 'train d1 .* lower .*margin 15%" \
  env ALPHA_HISTORY="$tmp/fake.csv" "${bench_small[@]}" --check
[ "$(wc -l <"$tmp/fake.csv")" -eq 2 ] && pass "--check without --record leaves the history alone" ||
  fail "--check wrote to the history"
rows_before=$(wc -l <"$tmp/history.csv")

cp "$tmp/history.csv" "$tmp/broken.csv"
echo 'not,a,row' >>"$tmp/broken.csv"
cp "$tmp/broken.csv" "$tmp/broken.orig"
expect_fail "bench malformed history" "broken.csv:$((rows_before + 1)): 3 fields instead of 7" \
  env ALPHA_HISTORY="$tmp/broken.csv" "${bench_small[@]}" --record
cmp -s "$tmp/broken.csv" "$tmp/broken.orig" && pass "a malformed history is left as it was" ||
  fail "a malformed history was changed"
expect_fail "bench unwritable --json" "folder $tmp/missing does not exist or is not writable" \
  "${bench_small[@]}" --json="$tmp/missing/out.json"
[ ! -e "$tmp/missing" ] && [ -z "$(ls -A "$tmp" | grep '\.tmp\.')" ] && pass "no temporary files left behind" ||
  fail "temporary files left: $(ls -A "$tmp")"
out=$("$alpha" bench --help) && grep -q "15% slower" <<<"$out" && grep -q -- "--record" <<<"$out" &&
  pass "bench --help states the --check margin" || fail "bench --help: $out"
rm -rf "$tmp"

summary
