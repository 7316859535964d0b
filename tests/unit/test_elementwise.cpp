// fill, copy, add, mul, scale and reduce_sum against CPU references on odd sizes.
// Elementwise results must be bit-exact: each is one IEEE-754 operation on the same floats. softcap
// (tanh, several operations) is checked against double precision instead.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

// Odd sizes take the storage-buffer kernels; multiples of 4 the CPU-device texel/vec4 variants
// there (400004: 100001 texels in spans of 512, the last one short).
static const int64_t kSizes[] = {1, 7, 257, 100003, 4, 1000, 400004};

TEST_CASE_FIXTURE(GpuFixture, "fill, copy, add, mul and scale are exact") {
  auto& context = gpu();
  for (int64_t n : kSizes) {
    CAPTURE(n);
    vk::Arena arena(context);
    Tensor a = Tensor::empty(arena, {n}), b = Tensor::empty(arena, {n});
    Tensor filled = Tensor::empty(arena, {n}), copied = Tensor::empty(arena, {n}),
           sum = Tensor::empty(arena, {n});
    Tensor product = Tensor::empty(arena, {n}), scaled = Tensor::empty(arena, {n});
    auto a_host = random_nonzero(n, 1), b_host = random_nonzero(n, 2);
    upload(arena, a, a_host);
    upload(arena, b, b_host);
    vk::CommandStream stream(context);
    ops::fill(stream, filled, 1.25f);
    ops::copy(stream, a, copied);
    ops::add(stream, a, b, sum);
    ops::mul(stream, a, b, product);
    ops::scale(stream, a, -3.5f, scaled);
    stream.submit();
    auto f = download(arena, filled), c = download(arena, copied), s = download(arena, sum);
    auto p = download(arena, product), k = download(arena, scaled);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < n; ++i) {
      mismatches += f[i] != 1.25f;
      mismatches += c[i] != a_host[i];
      mismatches += s[i] != a_host[i] + b_host[i];
      mismatches += p[i] != a_host[i] * b_host[i];
      mismatches += k[i] != a_host[i] * -3.5f;
    }
    CHECK(mismatches == 0);
  }
}

// f32 -> f16 on the device against the host's conversion (round to nearest even), bit for bit, over
// values spread across f16's range: subnormals, ties, the largest finite value and overflow to inf.
TEST_CASE_FIXTURE(GpuFixture, "cast_to_f16 rounds like the host, to nearest even") {
  auto& context = gpu();
  if (!context.fp16_enabled()) {
    MESSAGE("this device has no 16-bit storage; skipped");
    return;
  }
  for (int64_t n : kSizes) {
    CAPTURE(n);
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {n}), h = Tensor::empty(arena, {n}, DType::f16);
    auto x_host = random_nonzero(n, 5);
    for (int64_t i = 0; i < n; ++i)  // spread over 2^-26 .. 2^18: subnormal, normal and past 65504
      x_host[i] = std::ldexp(x_host[i], static_cast<int>(i % 45) - 26);
    if (n > 4) x_host[1] = 1.0f + std::ldexp(1.0f, -11), x_host[2] = 65504.0f, x_host[3] = 70000.0f;
    upload(arena, x, x_host);
    vk::CommandStream stream(context);
    ops::cast_to_f16(stream, x, h);
    stream.submit();
    auto got = download(arena, h);
    Tensor expected = Tensor::empty(arena, {n}, DType::f16);
    upload(arena, expected, x_host);  // rounded on the host
    auto want = download(arena, expected);
    int64_t mismatches = 0, first = -1;
    for (int64_t i = 0; i < n; ++i)
      if (!(got[i] == want[i]) && first < 0)
        first = i, ++mismatches;
      else
        mismatches += !(got[i] == want[i]);
    INFO("first mismatch at " << first << ": " << (first >= 0 ? x_host[first] : 0.0f) << " -> "
                              << (first >= 0 ? got[first] : 0.0f) << ", want "
                              << (first >= 0 ? want[first] : 0.0f));
    CHECK(mismatches == 0);
    if (n > 4) CHECK(std::isinf(got[3]));
  }
  vk::Arena arena(context);
  Tensor f = Tensor::empty(arena, {8}), g = Tensor::empty(arena, {8});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::cast_to_f16(stream, f, g), doctest::Contains("must be f16"),
                       alpha::Error);
}

TEST_CASE_FIXTURE(GpuFixture, "elementwise ops may write in place") {
  auto& context = gpu();
  for (const int64_t n : {int64_t(1001), int64_t(1000)}) {  // storage-buffer and texel variants
    CAPTURE(n);
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {n}), y = Tensor::empty(arena, {n});
    auto x_host = random_nonzero(n, 3), y_host = random_nonzero(n, 4);
    upload(arena, x, x_host);
    upload(arena, y, y_host);
    vk::CommandStream stream(context);
    ops::add(stream, x, y, x);       // x = x + y
    ops::scale(stream, x, 2.0f, x);  // x = 2x
    stream.submit();
    auto got = download(arena, x);
    for (int64_t i = 0; i < n; ++i) REQUIRE(got[i] == (x_host[i] + y_host[i]) * 2.0f);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "reduce_sum matches a double-precision sum") {
  auto& context = gpu();
  // 70001 > 256 groups x 256 invocations: the grid-stride loop runs more than once per invocation.
  for (int64_t n : {int64_t(1), int64_t(300), int64_t(70001)}) {
    CAPTURE(n);
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {n}), partials = Tensor::empty(arena, {ops::kReduceGroups});
    Tensor out = Tensor::empty(arena, {1});
    auto host = random_nonzero(n, 5);
    upload(arena, x, host);
    vk::CommandStream stream(context);
    ops::reduce_sum(stream, x, partials, out);
    stream.submit();
    double want = 0, magnitude = 0;
    for (float v : host) want += v, magnitude += std::abs(v);
    // fp32 summation error bound for any order: n·2^-23·sum|x|
    CHECK(std::abs(download(arena, out)[0] - want) <= n * std::ldexp(1.0, -23) * magnitude);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "reduce_sum is reproducible bit for bit") {
  auto& context = gpu();
  vk::Arena arena(context);
  const int64_t n = 123457;
  Tensor x = Tensor::empty(arena, {n}), partials = Tensor::empty(arena, {ops::kReduceGroups});
  Tensor out = Tensor::empty(arena, {1});
  upload(arena, x, random_nonzero(n, 6));
  vk::CommandStream stream(context);
  ops::reduce_sum(stream, x, partials, out);
  stream.submit();
  float first = download(arena, out)[0];
  stream.submit();  // replay
  CHECK(download(arena, out)[0] == first);
}

// softcap against cap·tanh(x/cap) in double. Tolerance 1e-6 relative: both branches of the kernel
// (the series below |x/cap| = 0.25, (1 - e^-2u)/(1 + e^-2u) above) are within a few ulp, and exp
// may be off by a few ulp more (Vulkan: 3 + 2|x| ulp, which matters only where e^-2u is tiny).
static void check_softcap(const std::vector<float>& x, const std::vector<float>& got, float cap) {
  Worst worst;
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = cap * std::tanh(double(x[i]) / cap);
    worst.update(got[i], want, 1e-6 * std::abs(want) + 1e-37, static_cast<int64_t>(i));
  }
  INFO(worst.describe("softcap"));
  CHECK(worst.excess <= 1.0);
}

TEST_CASE_FIXTURE(GpuFixture, "softcap matches cap·tanh(x/cap), in chunks and in place") {
  auto& context = gpu();
  for (const float cap : {15.0f, 2.0f})
    for (const int64_t n : kSizes)
      for (const VkDeviceSize chunk_bytes : {VkDeviceSize(0), VkDeviceSize(4096)}) {
        CAPTURE(cap);
        CAPTURE(n);
        CAPTURE(chunk_bytes);
        vk::Arena arena(context);
        Tensor x = Tensor::empty(arena, {n}), out = Tensor::empty(arena, {n});
        auto host = random_nonzero(n, 7);
        for (auto& v : host) v *= 30.0f;  // |x/cap| from 0.003 to 15: both branches, saturation
        upload(arena, x, host);
        vk::CommandStream stream(context);
        ops::softcap(stream, x, out, cap, chunk_bytes);
        ops::softcap(stream, x, x, cap, chunk_bytes);  // in place
        stream.submit();
        if (chunk_bytes && n * 4 > 4096) CHECK(stream.dispatch_count() > 2);
        const auto got = download(arena, out);
        check_softcap(host, got, cap);
        CHECK(download(arena, x) == got);  // in place gives the same bits
      }
}

TEST_CASE_FIXTURE(GpuFixture, "softcap saturates at ±cap for large |x| and keeps small ones") {
  auto& context = gpu();
  const float big = std::numeric_limits<float>::max(), inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {1e4f, -1e4f, 1e30f,  -1e30f, big,    -big,  inf,
                                     -inf, 0.0f,  1e-30f, -1e-30f, 0.499f, 0.501f, -7.0f};
  for (const int64_t n : {int64_t(16), int64_t(17)}) {  // the texel and the storage-buffer kernel
    CAPTURE(n);
    std::vector<float> host(n);
    for (int64_t i = 0; i < n; ++i) host[i] = values[i % values.size()];
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {n});
    upload(arena, x, host);
    vk::CommandStream stream(context);
    ops::softcap(stream, x, x, 2.0f);
    stream.submit();
    const auto got = download(arena, x);
    for (int64_t i = 0; i < n; ++i) {
      CAPTURE(host[i]);
      if (std::abs(host[i]) >= 1e4f) CHECK(got[i] == std::copysign(2.0f, host[i]));  // exactly
    }
    check_softcap(host, got, 2.0f);
  }
}

// Skipped by default (a 136 MB upload): a tensor larger than lavapipe's 128 MiB binding.
TEST_CASE_FIXTURE(GpuFixture, "softcap of a tensor larger than one binding" * doctest::skip()) {
  auto& context = gpu();
  const int64_t n = (int64_t(context.info().max_storage_buffer_range) / 4) + 1003;
  vk::Arena arena(context, VkDeviceSize(n) * 4 + (1 << 20));
  Tensor x = Tensor::empty(arena, {n});
  auto host = random_nonzero(n, 8);
  for (auto& v : host) v *= 30.0f;
  upload(arena, x, host);
  vk::CommandStream stream(context);
  ops::softcap(stream, x, x, 15.0f);
  stream.submit();
  CHECK(stream.dispatch_count() >= 2);
  check_softcap(host, download(arena, x), 15.0f);
}

TEST_CASE_FIXTURE(GpuFixture, "elementwise ops refuse mismatched sizes") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor a = Tensor::empty(arena, {10}), b = Tensor::empty(arena, {11});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::add(stream, a, b, a), doctest::Contains("different element counts"),
                       alpha::Error);
  CHECK_THROWS_AS(ops::copy(stream, a, b), alpha::Error);
  CHECK_THROWS_AS(ops::softcap(stream, a, b, 15.0f), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::softcap(stream, a, a, 0.0f), doctest::Contains("> 0"), alpha::Error);
}

}  // namespace alpha::test
