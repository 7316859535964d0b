#!/usr/bin/env bash
# CLI checks for `alpha`: --help/--version, `alpha devices`, the single-binary link, the matmul
# benchmark, and bad input (no loader, no driver, bad device index) -> one clear line, exit != 0.
# Usage: test_cli.sh PATH/TO/alpha
set -u
alpha=$1
failures=0
passes=0
pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { failures=$((failures + 1)); echo "FAIL: $1"; }

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

echo "$passes passed, $failures failed"
[ "$failures" -eq 0 ]
