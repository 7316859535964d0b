// grad_norm_squared and adamw_update against double-precision CPU references: odd sizes, chunked
// bindings, three AdamW steps with and without weight decay and with clipping off, inactive and
// active, checking params, m and v after each step; bitwise reproducibility.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engine/ops/adamw.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

struct NormCase {
  int64_t n;
  VkDeviceSize chunk_bytes;  // max_chunk_bytes (0: the device's storage-buffer range)
};
// On CPU devices an unchunked n >= 4 takes the texel kernel: 37, 4098 and 100003 have 1, 2 and 3
// floats past the last texel, 36864 none.
static const NormCase kNormCases[] = {{1, 0},      {37, 0},         {4098, 0},   {36864, 0},
                                      {100003, 0}, {100003, 16384}, {5001, 1024}};

static float device_norm_sq(const std::vector<float>& host, VkDeviceSize chunk_bytes,
                            size_t* dispatches = nullptr) {
  auto& context = gpu();
  vk::Arena arena(context);
  const auto n = static_cast<int64_t>(host.size());
  Tensor grads = Tensor::empty(arena, {n}), partials = Tensor::empty(arena, {ops::kNormPartials});
  Tensor out = Tensor::empty(arena, {1});
  upload(arena, grads, host);
  vk::CommandStream stream(context);
  ops::grad_norm_squared(stream, grads, partials, out, chunk_bytes);
  stream.submit();
  if (dispatches) *dispatches = stream.dispatch_count();
  return download(arena, out)[0];
}

TEST_CASE_FIXTURE(GpuFixture, "grad_norm_squared counts every element once, chunked or not") {
  // All ones: every partial sum is an integer below 2^24, so the result is exactly n.
  for (const auto& c : kNormCases) {
    CAPTURE(c.n);
    CAPTURE(c.chunk_bytes);
    size_t dispatches = 0;
    CHECK(device_norm_sq(std::vector<float>(c.n, 1.0f), c.chunk_bytes, &dispatches) == float(c.n));
    if (c.chunk_bytes) CHECK(dispatches > 2);  // several chunks, then the final pass
  }
}

TEST_CASE_FIXTURE(GpuFixture, "grad_norm_squared matches a double-precision sum of squares") {
  for (const auto& c : kNormCases) {
    CAPTURE(c.n);
    CAPTURE(c.chunk_bytes);
    auto host = random_nonzero(c.n, 31);
    double want = 0;
    for (float x : host) want += double(x) * x;
    const float got = device_norm_sq(host, c.chunk_bytes);
    // Every square goes through at most ~30 roundings (grid-stride sum of <= 2 terms, two 8-level
    // trees, the final pass's serial sum of <= 4), or on the texel path ~50 (a lane's serial sum of
    // <= 33 texels per accumulator here, 3 levels within the lane, the final pass as above); all
    // terms are positive, so 64 ulps of the total bound it.
    INFO(fmt::format("got {:.9g}, want {:.9g}", got, want));
    CHECK(std::abs(got - want) <= 64 * std::ldexp(1.0, -24) * want);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "grad_norm_squared is reproducible bit for bit") {
  auto host = random_nonzero(123457, 32);
  const float first = device_norm_sq(host, 0), chunked = device_norm_sq(host, 8192);
  CHECK(device_norm_sq(host, 0) == first);
  CHECK(device_norm_sq(host, 8192) == chunked);
}

struct AdamCase {
  const char* name;
  float weight_decay;
  float max_norm;  // the grads' norm is ~9: 1 clips, 1000 does not, 0 turns clipping off
  VkDeviceSize chunk_bytes;
  float loss_scale =
      1;  // the device gets the gradients times this (fp16 loss scaling), the reference not
};
static const AdamCase kAdamCases[] = {
    {"no clip, wd 0", 0.0f, 0.0f, 0},
    {"no clip, wd 0.1", 0.1f, 0.0f, 0},
    {"clip inactive, wd 0.1", 0.1f, 1000.0f, 0},
    {"clip active, wd 0", 0.0f, 1.0f, 0},
    {"clip active, wd 0.1", 0.1f, 1.0f, 0},
    {"clip active, wd 0.1, chunked", 0.1f, 1.0f, 1024},
    {"clip active, wd 0.1, loss scale 2^12", 0.1f, 1.0f, 0, 4096.0f},
    {"no clip, loss scale 2^-3", 0.0f, 0.0f, 0, 0.125f},
};

// Double-precision AdamW state, the reference the device's f32 state is checked against.
struct AdamReference {
  std::vector<double> p, m, v,
      m_magnitude;  // m_magnitude: the same recurrence over |g|, bounds m's rounding

  void step(const std::vector<float>& grads, const ops::AdamWConfig& config) {
    double norm_sq = 0;
    for (float g : grads) norm_sq += double(g) * g;
    double coef = 1.0;
    if (config.max_norm > 0) coef = std::min(1.0, config.max_norm / (std::sqrt(norm_sq) + 1e-6));
    const double b1 = config.beta1, b2 = config.beta2, lr = config.lr;
    const double bc1 = 1 - std::pow(b1, config.step), bc2 = 1 - std::pow(b2, config.step);
    for (size_t i = 0; i < p.size(); ++i) {
      const double g = grads[i] * coef;
      p[i] *= 1 - lr * config.weight_decay;
      m[i] = b1 * m[i] + (1 - b1) * g;
      m_magnitude[i] = b1 * m_magnitude[i] + (1 - b1) * std::abs(g);
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      p[i] -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + config.eps);
    }
  }
};

// The per-step scalars of `config` in a new device tensor, as a model's batch buffer holds them.
static Tensor step_scalars(vk::Arena& arena, const ops::AdamWConfig& config) {
  const auto s = ops::adamw_step_scalars(config);
  return Tensor::of(arena, std::vector<float>{s.decay, s.step_size, s.bc2_sqrt, s.inv_loss_scale});
}

TEST_CASE_FIXTURE(GpuFixture,
                  "adamw_update follows clip_grad_norm_ + torch.optim.AdamW for 3 steps") {
  auto& context = gpu();
  for (const int64_t P : {1001, 1000})  // 1000: the texel kernel on CPU devices (chunked too)
    for (const auto& c : kAdamCases) {
      INFO(c.name);
      CAPTURE(P);
      vk::Arena arena(context);
      Tensor params = Tensor::empty(arena, {P}), grads = Tensor::empty(arena, {P});
      Tensor m = Tensor::empty(arena, {P}), v = Tensor::empty(arena, {P});
      Tensor partials = Tensor::empty(arena, {ops::kNormPartials}),
             norm_sq = Tensor::empty(arena, {1});
      auto p_host = random_nonzero(P, 41);
      upload(arena, params, p_host);
      upload(arena, m, std::vector<float>(P, 0.0f));
      upload(arena, v, std::vector<float>(P, 0.0f));
      AdamReference ref{{p_host.begin(), p_host.end()},
                        std::vector<double>(P),
                        std::vector<double>(P),
                        std::vector<double>(P)};
      for (int step = 1; step <= 3; ++step) {
        CAPTURE(step);
        auto g_host = random_nonzero(P, 42 + step);
        for (auto& g : g_host) g *= 0.5f;
        auto g_scaled = g_host;
        for (auto& g : g_scaled) g *= c.loss_scale;  // a power of two: exact
        upload(arena, grads, g_scaled);
        const ops::AdamWConfig config{.lr = 1e-2f,
                                      .weight_decay = c.weight_decay,
                                      .step = step,
                                      .max_norm = c.max_norm,
                                      .loss_scale = c.loss_scale};
        vk::CommandStream stream(context);
        ops::grad_norm_squared(stream, grads, partials, norm_sq, c.chunk_bytes);
        ops::adamw_update(stream, params, grads, m, v, norm_sq, step_scalars(arena, config), config,
                          c.chunk_bytes);
        stream.submit();
        if (c.chunk_bytes) CHECK(stream.dispatch_count() > 4);
        ref.step(g_host, config);

        // Tolerances. m, v: a few f32 roundings per step (2^-24 each) plus the clip coefficient's
        // ~1e-7 relative error (device norm vs double norm): 1e-6 of m's magnitude bound (the same
        // recurrence over |g|, since m may cancel to ~0) and 1e-6 of v (lavapipe: <= 0.31 of that).
        // params: f32 rounding of p (2^-24·|p| per step) plus 1e-5 of each update
        // (lr·mhat/sqrt(vhat) ~ lr). A wrong bias correction, decay or clip factor is off by >=
        // 1e-3 relative.
        auto p_got = download(arena, params), m_got = download(arena, m),
             v_got = download(arena, v);
        Worst wp, wm, wv;
        for (int64_t i = 0; i < P; ++i) {
          wp.update(p_got[i], ref.p[i], 4e-7 * std::abs(ref.p[i]) + 1e-5 * 1e-2 * step, i);
          wm.update(m_got[i], ref.m[i], 1e-6 * ref.m_magnitude[i], i);
          wv.update(v_got[i], ref.v[i], 1e-6 * ref.v[i] + 1e-30, i);
        }
        INFO(wp.describe("params"));
        INFO(wm.describe("m"));
        INFO(wv.describe("v"));
        CHECK(wp.excess <= 1.0);
        CHECK(wm.excess <= 1.0);
        CHECK(wv.excess <= 1.0);
        CHECK(download(arena, grads) == g_scaled);  // grads are only read
      }
    }
}

TEST_CASE_FIXTURE(GpuFixture, "adamw_update is reproducible bit for bit") {
  auto& context = gpu();
  const int64_t P = 4097;
  auto run = [&] {
    vk::Arena arena(context);
    Tensor params = Tensor::empty(arena, {P}), grads = Tensor::empty(arena, {P});
    Tensor m = Tensor::empty(arena, {P}), v = Tensor::empty(arena, {P});
    Tensor partials = Tensor::empty(arena, {ops::kNormPartials}),
           norm_sq = Tensor::empty(arena, {1});
    upload(arena, params, random_nonzero(P, 51));
    upload(arena, grads, random_nonzero(P, 52));
    upload(arena, m, random_nonzero(P, 53));
    auto v_host = random_nonzero(P, 54);
    for (auto& x : v_host) x = x * x;
    upload(arena, v, v_host);
    vk::CommandStream stream(context);
    ops::grad_norm_squared(stream, grads, partials, norm_sq);
    const ops::AdamWConfig config{.lr = 3e-4f, .weight_decay = 0.1f, .step = 7, .max_norm = 1.0f};
    ops::adamw_update(stream, params, grads, m, v, norm_sq, step_scalars(arena, config), config);
    stream.submit();
    return std::vector<std::vector<float>>{download(arena, params), download(arena, m),
                                           download(arena, v)};
  };
  CHECK(run() == run());
}

// Mixed precision: the optimizer also writes the new parameters rounded to f16 (the copy the f16
// matmuls read); the f32 results are bit for bit those of the step without the copy.
TEST_CASE_FIXTURE(GpuFixture, "adamw_update's f16 copy is the updated parameters rounded to f16") {
  auto& context = gpu();
  if (!context.fp16_enabled()) {
    MESSAGE("this device has no 16-bit storage; skipped");
    return;
  }
  for (const int64_t P : {1001, 1000, 4096})  // plain, texel, texel in chunks of 1024 floats
    for (const bool copy : {false, true}) {
      CAPTURE(P);
      const VkDeviceSize chunk_bytes = P == 4096 ? 4096 : 0;
      vk::Arena arena(context);
      Tensor params = Tensor::empty(arena, {P}), grads = Tensor::empty(arena, {P});
      Tensor m = Tensor::empty(arena, {P}), v = Tensor::empty(arena, {P}),
             half = Tensor::empty(arena, {P}, DType::f16);
      Tensor partials = Tensor::empty(arena, {ops::kNormPartials}),
             norm_sq = Tensor::empty(arena, {1});
      upload(arena, params, random_nonzero(P, 71));
      upload(arena, grads, random_nonzero(P, 72));
      upload(arena, m, std::vector<float>(P, 0.0f));
      upload(arena, v, std::vector<float>(P, 0.0f));
      const ops::AdamWConfig config{.lr = 1e-2f, .weight_decay = 0.1f, .step = 1, .max_norm = 1.0f};
      vk::CommandStream stream(context);
      ops::grad_norm_squared(stream, grads, partials, norm_sq);
      ops::adamw_update(stream, params, grads, m, v, norm_sq, step_scalars(arena, config), config,
                        chunk_bytes, copy ? &half : nullptr);
      stream.submit();
      static std::vector<float> without_copy;
      const auto updated = download(arena, params);
      if (!copy) {
        without_copy = updated;
        continue;
      }
      CHECK(updated == without_copy);
      Tensor rounded = Tensor::empty(arena, {P}, DType::f16);
      upload(arena, rounded, updated);
      CHECK(download(arena, half) == download(arena, rounded));
    }
}

TEST_CASE_FIXTURE(GpuFixture, "adamw_update skips the step when the gradient norm is not finite") {
  auto& context = gpu();
  const int64_t P = 1031;
  const auto p_host = random_nonzero(P, 61), g_host = random_nonzero(P, 62), m_host = random_nonzero(P, 63);
  auto v_host = random_nonzero(P, 64);
  for (auto& x : v_host) x = x * x;
  auto g_bad = g_host;
  g_bad[517] = std::numeric_limits<float>::quiet_NaN();
  auto g_huge = g_host;
  g_huge[3] = 3e38f;  // finite, but its square overflows the norm to inf
  // A NaN gradient (norm NaN), an overflowing norm (inf), and without clipping (max_norm 0) too.
  for (const auto& [grads_host, max_norm] : {std::pair{g_bad, 1.0f}, {g_huge, 1.0f}, {g_bad, 0.0f}}) {
    vk::Arena arena(context);
    Tensor params = Tensor::empty(arena, {P}), grads = Tensor::empty(arena, {P});
    Tensor m = Tensor::empty(arena, {P}), v = Tensor::empty(arena, {P});
    Tensor partials = Tensor::empty(arena, {ops::kNormPartials}), norm_sq = Tensor::empty(arena, {1});
    upload(arena, params, p_host), upload(arena, grads, grads_host);
    upload(arena, m, m_host), upload(arena, v, v_host);
    vk::CommandStream stream(context);
    ops::grad_norm_squared(stream, grads, partials, norm_sq);
    const ops::AdamWConfig config{
        .lr = 3e-4f, .weight_decay = 0.1f, .step = 7, .max_norm = max_norm};
    ops::adamw_update(stream, params, grads, m, v, norm_sq, step_scalars(arena, config), config);
    stream.submit();
    CHECK(!std::isfinite(download(arena, norm_sq)[0]));
    CHECK(download(arena, params) == p_host);
    CHECK(download(arena, m) == m_host);
    CHECK(download(arena, v) == v_host);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "optimizer kernels refuse bad arguments") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor a = Tensor::empty(arena, {10}), b = Tensor::empty(arena, {11}),
         one = Tensor::empty(arena, {1});
  Tensor small_partials = Tensor::empty(arena, {ops::kNormPartials - 1});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::grad_norm_squared(stream, a, small_partials, one),
                       doctest::Contains("kNormPartials"), alpha::Error);
  const ops::AdamWConfig good{.lr = 1e-3f}, step_zero{.lr = 1e-3f, .step = 0};
  const Tensor step = step_scalars(arena, good);
  CHECK_THROWS_WITH_AS(ops::adamw_update(stream, a, b, a, a, one, step, good),
                       doctest::Contains("different element counts"), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::adamw_step_scalars(step_zero), doctest::Contains("counts from 1"),
                       alpha::Error);
  CHECK_THROWS_WITH_AS(ops::adamw_update(stream, a, a, a, a, one, one, good),
                       doctest::Contains("kAdamWStepFloats"), alpha::Error);
}

}  // namespace alpha::test
