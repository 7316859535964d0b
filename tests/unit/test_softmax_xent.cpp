// softmax_cross_entropy against a double-precision CPU reference: odd V (101, 1000, 50257), ignored
// rows, logits of magnitude 80 (stability), dlogits in place, row chunks, bitwise reproducibility;
// with a tanh softcap (cap 15 and a strong cap 2), whose gradient formula is checked by finite
// differences.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/softmax_xent.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

struct XentCase {
  const char* name;
  int64_t N, V;
  float magnitude;           // logits are random_nonzero * magnitude
  int64_t ignore_every;      // rows n with n % ignore_every == 1 get target -1 (0: none)
  bool in_place;             // dlogits is logits
  VkDeviceSize chunk_bytes;  // max_chunk_bytes (0: device limit; 1: the smallest aligned row chunk)
};

static const XentCase kCases[] = {
    {"small V, ignored rows", 37, 101, 4.0f, 5, false, 0},
    {"V=1000, +-80 logits", 7, 1000, 80.0f, 3, false, 0},
    {"GPT-2 vocab, two rows", 2, 50257, 8.0f, 0, false, 0},
    {"in place", 37, 1000, 4.0f, 4, true, 0},
    {"in place, +-80 logits", 5, 1001, 80.0f, 0, true, 0},
    {"row chunks", 150, 101, 4.0f, 7, false, 1},
    // V % 4 == 0 takes the texel kernel on CPU devices (the V=1000 cases above too); rows no
    // multiple of 8
    {"V=4096, ignored rows", 13, 4096, 8.0f, 3, false, 0},
    {"V=4096 in place, +-80 logits", 11, 4096, 80.0f, 2, true, 0},
};

struct XentResult {
  std::vector<float> losses, dlogits;
  size_t dispatches = 0;
};


static std::vector<int32_t> make_targets(const XentCase& c) {
  std::vector<int32_t> targets(c.N);
  for (int64_t n = 0; n < c.N; ++n)
    targets[n] = (c.ignore_every && n % c.ignore_every == 1)
                     ? -1
                     : static_cast<int32_t>((n * 7919 + 13) % c.V);
  targets[0] = static_cast<int32_t>(c.V - 1);  // the last column is reachable
  return targets;
}

static XentResult run_xent(const XentCase& c, const std::vector<float>& x,
                           const std::vector<int32_t>& targets, float scale, float softcap = 0) {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor logits = Tensor::empty(arena, {c.N, c.V}), dlogits = Tensor::empty(arena, {c.N, c.V});
  Tensor target_t = Tensor::empty(arena, {c.N}, DType::i32), losses = Tensor::empty(arena, {c.N});
  upload(arena, logits, x);
  upload(arena, target_t, targets);
  upload(arena, losses, std::vector<float>(c.N, 123.0f));  // garbage an ignored row must overwrite
  const Tensor& grad = c.in_place ? logits : dlogits;
  if (!c.in_place) upload(arena, dlogits, std::vector<float>(c.N * c.V, 123.0f));
  vk::CommandStream stream(context);
  const Tensor scale_t = Tensor::of(arena, std::vector<float>{scale});
  ops::softmax_cross_entropy(stream, logits, target_t, losses, grad, scale_t, c.chunk_bytes,
                             softcap);
  stream.submit();
  return {download(arena, losses), download(arena, grad), stream.dispatch_count()};
}

TEST_CASE_FIXTURE(GpuFixture, "softmax_cross_entropy matches a double-precision reference") {
  for (const auto& c : kCases) {
    INFO(fmt::format("{}: N={} V={} magnitude={}", c.name, c.N, c.V, c.magnitude));
    auto x = random_nonzero(c.N * c.V, 21);
    for (auto& value : x) value *= c.magnitude;
    const auto targets = make_targets(c);
    const auto counted =
        std::count_if(targets.begin(), targets.end(), [](int32_t t) { return t >= 0; });
    const float scale = 1.0f / static_cast<float>(counted);
    const auto got = run_xent(c, x, targets, scale);
    if (c.chunk_bytes == 1) CHECK(got.dispatches > 1);

    // Tolerances (lavapipe uses <= 35% of each). loss: the f32 sum of V exps rounds to ~1e-6
    // relative, exp/log may be off by a few ulp (GPU approximations; (3 + 2|x|) ulp by Vulkan's
    // rule), max - x_t rounds at 2^-24·|loss|: 1e-5 + 2e-6·|loss|. dlogits: 1e-5 relative on p for
    // the same reasons, plus p - 1 and the scale rounding at 2^-24 on the one-hot element:
    // scale·(1e-5·p + 2e-7). A dropped or doubled exp moves every p of a small-V row by >= 1e-4.
    Worst loss_worst, grad_worst;
    for (int64_t n = 0; n < c.N; ++n) {
      const float* row = &x[n * c.V];
      const int32_t t = targets[n];
      const double max = *std::max_element(row, row + c.V);
      double sum = 0;
      for (int64_t j = 0; j < c.V; ++j) sum += std::exp(double(row[j]) - max);
      const double loss = t < 0 ? 0.0 : std::log(sum) + max - row[t];
      loss_worst.update(got.losses[n], loss, 1e-5 + 2e-6 * std::abs(loss), n);
      for (int64_t j = 0; j < c.V; ++j) {
        const double p = std::exp(double(row[j]) - max) / sum;
        const double want = t < 0 ? 0.0 : (p - (j == t ? 1.0 : 0.0)) * scale;
        grad_worst.update(got.dlogits[n * c.V + j], want, scale * (1e-5 * p + 2e-7), n * c.V + j);
      }
    }
    INFO(fmt::format("worst loss at row {}: got {:.9g}, want {:.9g} ({:.3g} x tolerance)",
                     loss_worst.index, loss_worst.got, loss_worst.want, loss_worst.excess));
    INFO(fmt::format("worst dlogits at [{}, {}]: got {:.9g}, want {:.9g} ({:.3g} x tolerance)",
                     grad_worst.index / c.V, grad_worst.index % c.V, grad_worst.got,
                     grad_worst.want, grad_worst.excess));
    CHECK(loss_worst.excess <= 1.0);
    CHECK(grad_worst.excess <= 1.0);
    for (int64_t n = 0; n < c.N; ++n)
      if (targets[n] < 0) {
        CHECK(got.losses[n] == 0.0f);
        for (int64_t j = 0; j < c.V; ++j) REQUIRE(got.dlogits[n * c.V + j] == 0.0f);
      }
  }
}

// Softcapped logits c = cap·tanh(z/cap), given capped (rounded to float as ops::softcap would give
// them); dlogits is w.r.t. z.
struct CapCase {
  XentCase shape;
  float cap;
};
static const CapCase kCapCases[] = {
    {{"small V, ignored rows", 37, 101, 20.0f, 5, false, 0}, 15.0f},
    {{"small V, ignored rows, strong cap", 37, 101, 20.0f, 5, false, 0}, 2.0f},
    {{"in place, strong cap", 37, 101, 20.0f, 4, true, 0}, 2.0f},
    {{"row chunks", 150, 101, 20.0f, 7, false, 1}, 15.0f},
    {{"row chunks in place, strong cap", 150, 101, 20.0f, 7, true, 1}, 2.0f},
    // V % 4 == 0: the texel kernel on CPU devices
    {{"V=1000 in place", 13, 1000, 30.0f, 3, true, 0}, 15.0f},
    {{"V=4096, ignored rows, strong cap", 11, 4096, 8.0f, 2, false, 0}, 2.0f},
};

// The loss of the uncapped logits z of one row, in double: lse(c) - c_t with c = cap·tanh(z/cap).
static double capped_loss(const std::vector<double>& z, int32_t t, double cap) {
  double max = -1e300, sum = 0;
  for (double v : z) max = std::max(max, cap * std::tanh(v / cap));
  for (double v : z) sum += std::exp(cap * std::tanh(v / cap) - max);
  return std::log(sum) + max - cap * std::tanh(z[t] / cap);
}

TEST_CASE("the softcapped gradient formula is d(loss)/dz (finite differences)") {
  const int64_t V = 11;
  const auto zf = random_nonzero(V, 31);
  for (const double cap : {15.0, 2.0}) {
    CAPTURE(cap);
    std::vector<double> z(zf.begin(), zf.end());
    for (auto& v : z) v *= 5;
    const int32_t t = 3;
    double max = -1e300, sum = 0;
    std::vector<double> c(V);
    for (int64_t j = 0; j < V; ++j) c[j] = cap * std::tanh(z[j] / cap), max = std::max(max, c[j]);
    for (double v : c) sum += std::exp(v - max);
    for (int64_t j = 0; j < V; ++j) {
      const double formula =
          (std::exp(c[j] - max) / sum - (j == t ? 1.0 : 0.0)) * (1 - (c[j] / cap) * (c[j] / cap));
      auto zp = z, zm = z;
      zp[j] += 1e-6, zm[j] -= 1e-6;
      const double fd = (capped_loss(zp, t, cap) - capped_loss(zm, t, cap)) / 2e-6;
      CHECK(std::abs(fd - formula) < 1e-8);
    }
  }
}

TEST_CASE_FIXTURE(GpuFixture, "softmax_cross_entropy with a softcap matches the reference") {
  for (const auto& [c, cap] : kCapCases) {
    INFO(fmt::format("{}: N={} V={} magnitude={} cap={}", c.name, c.N, c.V, c.magnitude, cap));
    auto x = random_nonzero(c.N * c.V, 24);
    for (auto& value : x)
      value = static_cast<float>(cap * std::tanh(double(value) * c.magnitude / cap));
    const auto targets = make_targets(c);
    const float scale = 0.125f;
    const auto got = run_xent(c, x, targets, scale, cap);
    if (c.chunk_bytes == 1) CHECK(got.dispatches > 1);
    // The plain test's tolerances (see above), the gradient's times k = 1 - (c/cap)², plus k's own
    // rounding (c/cap and its square, a few ulp of 1): 5e-7 of |p - onehot|·scale.
    Worst loss_worst, grad_worst;
    for (int64_t n = 0; n < c.N; ++n) {
      const float* row = &x[n * c.V];
      const int32_t t = targets[n];
      const double max = *std::max_element(row, row + c.V);
      double sum = 0;
      for (int64_t j = 0; j < c.V; ++j) sum += std::exp(double(row[j]) - max);
      const double loss = t < 0 ? 0.0 : std::log(sum) + max - row[t];
      loss_worst.update(got.losses[n], loss, 1e-5 + 2e-6 * std::abs(loss), n);
      for (int64_t j = 0; j < c.V; ++j) {
        const double p = std::exp(double(row[j]) - max) / sum, r = row[j] / double(cap);
        const double k = std::max(1 - r * r, 0.0), g = t < 0 ? 0.0 : p - (j == t ? 1.0 : 0.0);
        grad_worst.update(got.dlogits[n * c.V + j], g * scale * k,
                          scale * ((1e-5 * p + 2e-7) * k + 5e-7 * std::abs(g)), n * c.V + j);
      }
    }
    INFO(loss_worst.describe("loss"));
    INFO(grad_worst.describe("dlogits"));
    CHECK(loss_worst.excess <= 1.0);
    CHECK(grad_worst.excess <= 1.0);
    for (int64_t n = 0; n < c.N; ++n)
      if (targets[n] < 0) {
        CHECK(got.losses[n] == 0.0f);
        for (int64_t j = 0; j < c.V; ++j) REQUIRE(got.dlogits[n * c.V + j] == 0.0f);
      }
  }
}

TEST_CASE_FIXTURE(GpuFixture, "softmax_cross_entropy is reproducible bit for bit") {
  auto& context = gpu();
  vk::Arena arena(context);
  const int64_t N = 9;
  for (const int64_t V : {4096, 4099}) {  // the texel kernel on CPU devices, then the other
    CAPTURE(V);
    Tensor logits = Tensor::empty(arena, {N, V}), dlogits = Tensor::empty(arena, {N, V});
    Tensor targets = Tensor::empty(arena, {N}, DType::i32), losses = Tensor::empty(arena, {N});
    upload(arena, logits, random_nonzero(N * V, 22));
    std::vector<int32_t> target_host(N);
    for (int64_t n = 0; n < N; ++n) target_host[n] = static_cast<int32_t>((n * 977) % V);
    upload(arena, targets, target_host);
    vk::CommandStream stream(context);
    ops::softmax_cross_entropy(stream, logits, targets, losses, dlogits,
                               Tensor::of(arena, std::vector{0.25f}));
    stream.submit();
    auto losses_first = download(arena, losses), dlogits_first = download(arena, dlogits);
    upload(arena, losses, std::vector<float>(N, 0.0f));
    upload(arena, dlogits, std::vector<float>(N * V, 0.0f));
    stream.submit();  // replay
    CHECK(download(arena, losses) == losses_first);
    CHECK(download(arena, dlogits) == dlogits_first);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "softmax_cross_entropy flags bad targets and refuses bad shapes") {
  auto& context = gpu();
  vk::Arena arena(context);
  const int64_t N = 3;
  for (const int64_t V : {16, 17}) {  // the texel kernel on CPU devices, then the other
    CAPTURE(V);
    Tensor logits = Tensor::empty(arena, {N, V}), dlogits = Tensor::empty(arena, {N, V});
    Tensor targets = Tensor::empty(arena, {N}, DType::i32), losses = Tensor::empty(arena, {N});
    const Tensor one = Tensor::of(arena, std::vector{1.0f});
    upload(arena, logits, random_nonzero(N * V, 23));
    upload(arena, targets,
           std::vector<int32_t>{int32_t(V), 2, -5});  // out of range, valid, out of range
    vk::CommandStream stream(context);
    ops::softmax_cross_entropy(stream, logits, targets, losses, dlogits, one);
    stream.submit();
    auto got = download(arena, losses);
    CHECK(std::isnan(got[0]));
    CHECK(std::isfinite(got[1]));
    CHECK(std::isnan(got[2]));

    Tensor short_targets = Tensor::empty(arena, {N - 1}, DType::i32),
           float_targets = Tensor::empty(arena, {N});
    Tensor wide = Tensor::empty(arena, {N, V + 1});
    CHECK_THROWS_WITH_AS(
        ops::softmax_cross_entropy(stream, logits, short_targets, losses, dlogits, one),
        doctest::Contains("rows"), alpha::Error);
    CHECK_THROWS_WITH_AS(
        ops::softmax_cross_entropy(stream, logits, float_targets, losses, dlogits, one),
        doctest::Contains("i32"), alpha::Error);
    CHECK_THROWS_WITH_AS(ops::softmax_cross_entropy(stream, logits, targets, losses, wide, one),
                         doctest::Contains("shape of logits"), alpha::Error);
    CHECK_THROWS_WITH_AS(
        ops::softmax_cross_entropy(stream, logits, targets, losses, dlogits, one, 0, -1.0f),
        doctest::Contains("softcap"), alpha::Error);
  }
}

}  // namespace alpha::test
