// f16/bf16 host conversion against exact expectations (every f16 bit pattern round-trips; rounding
// is to nearest even), and f16/bf16 tensors round-tripping through device memory.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "engine/half.h"
#include "engine/tensor.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

TEST_CASE("every finite f16 value converts to f32 and back exactly") {
  int mismatches = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff)) continue;  // NaN payloads: checked below
    mismatches += f32_to_f16(f16_to_f32(static_cast<uint16_t>(h))) != h;
  }
  CHECK(mismatches == 0);
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(f16_to_f32(0x7bff) == 65504.0f);               // largest finite
  CHECK(std::isnan(f16_to_f32(f32_to_f16(std::numeric_limits<float>::quiet_NaN()))));
}

TEST_CASE("f16 and bf16 rounding is to nearest, ties to even") {
  // 1 + 2^-11 lies halfway between f16 1.0 and 1 + 2^-10: ties go to the even mantissa (1.0)
  CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
  CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie: up to the even one
  CHECK(f32_to_f16(65520.0f) == 0x7c00);                          // overflows to infinity
  CHECK(f32_to_f16(65519.0f) == 0x7bff);
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);      // tie to even
  CHECK(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  CHECK(bf16_to_f32(0xc040) == -3.0f);
}

TEST_CASE_FIXTURE(GpuFixture, "f16 and bf16 tensors round-trip through device memory") {
  auto& context = gpu();
  vk::Arena arena(context);
  const int64_t n = 333;
  auto values = random_nonzero(n, 7);
  for (DType dtype : {DType::f16, DType::bf16}) {
    CAPTURE(dtype_name(dtype));
    Tensor t = Tensor::empty(arena, {n}, dtype);
    CHECK(t.bytes() == n * 2);
    upload(arena, t, values);
    auto got = download(arena, t);
    // relative rounding error at most 2^-11 (f16) or 2^-8 (bf16)
    const float bound = dtype == DType::f16 ? std::ldexp(1.0f, -11) : std::ldexp(1.0f, -8);
    for (int64_t i = 0; i < n; ++i) REQUIRE(std::abs(got[i] - values[i]) <= bound * std::abs(values[i]));
  }
}

}  // namespace alpha::test
