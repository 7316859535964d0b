#!/usr/bin/env bash
# CLI checks for `alpha`: --help/--version, `alpha devices`, the single-binary link, and bad input
# (no loader, no driver, bad device index) -> one clear line, exit != 0. `alpha bench`: test_bench.sh.
# Usage: test_cli.sh PATH/TO/alpha
set -u
alpha=$1
source "$(dirname "$0")/common.sh"

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
summary
