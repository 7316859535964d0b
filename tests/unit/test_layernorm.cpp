// layernorm_forward and layernorm_backward against double-precision CPU references: odd sizes
// (C = 48, 101; 37 rows; N = 1), every workgroup shape the launcher uses, accumulation into
// non-zero gradients, and bit-identical replays.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/ops/layernorm.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

struct LayernormCase {
  int64_t N, C;
};
// C % 4 == 0 takes the texel kernels on CPU devices when no workgroup shape is given (C = 52: 13
// texels, a tail after the forward's 4-texel steps)
static const LayernormCase kCases[] = {{37, 48}, {37, 101}, {1, 101}, {9, 96}, {1, 48}, {21, 52}};

// The CPU and GPU default shapes, plus one with several row lanes and a row group wider than C
// = 48.
static const ops::LayernormGroups kGroups[] = {{8, 8, 1}, {128, 32, 16}, {64, 4, 8}};

// Double-precision results, and per element the magnitude S of the terms that make it up: fp32 sums
// of k terms err by at most k·2^-24·S in any order, which is how every tolerance below is formed.
struct Reference {
  std::vector<double> out, mean, rstd, dx, dweight, dbias;
  std::vector<double> out_mag, dx_mag, dweight_mag, dbias_mag;
};

// Forward, then the backward formulas derived by hand. With xhat = (x - mean)·rstd, g = dout·w:
//   dxhat_j/dx_i = rstd·(δij - 1/C - xhat_i·xhat_j/C), so
//   dx_i = rstd·(g_i - mean(g) - xhat_i·mean(g·xhat)); dweight = Σ_n dout·xhat; dbias = Σ_n dout.
// The gradients include the starting values dx0, dw0, db0 (they accumulate).
static Reference reference(int64_t N, int64_t C, const std::vector<float>& x,
                           const std::vector<float>& w, const std::vector<float>& b,
                           const std::vector<float>& dout, const std::vector<float>& dx0,
                           const std::vector<float>& dw0, const std::vector<float>& db0) {
  Reference r;
  r.out.resize(N * C), r.mean.resize(N), r.rstd.resize(N), r.dx.resize(N * C);
  r.out_mag.resize(N * C), r.dx_mag.resize(N * C);
  r.dweight.assign(dw0.begin(), dw0.end()), r.dbias.assign(db0.begin(), db0.end());
  r.dweight_mag.resize(C), r.dbias_mag.resize(C);
  for (int64_t i = 0; i < C; ++i) {
    r.dweight_mag[i] = std::abs(dw0[i]);
    r.dbias_mag[i] = std::abs(db0[i]);
  }
  for (int64_t n = 0; n < N; ++n) {
    const float* row = &x[n * C];
    double mean = 0, var = 0, spread = 0;
    for (int64_t i = 0; i < C; ++i) mean += row[i];
    mean /= C;
    for (int64_t i = 0; i < C; ++i) {
      var += (row[i] - mean) * (row[i] - mean);
      spread = std::max(spread, std::abs(row[i] - mean));
    }
    const double rstd = 1.0 / std::sqrt(var / C + 1e-5);
    r.mean[n] = mean, r.rstd[n] = rstd;
    // xhat's own error is ~C·2^-24·(rstd·spread + |xhat|): the mean's error times rstd, plus
    // rstd's.
    const double xhat_scale = rstd * spread;
    double g_mean = 0, gx_mean = 0, g_abs = 0, gx_abs = 0;
    for (int64_t i = 0; i < C; ++i) {
      const double xhat = (row[i] - mean) * rstd, d = dout[n * C + i], g = d * w[i];
      r.out[n * C + i] = xhat * w[i] + b[i];
      r.out_mag[n * C + i] = std::abs(w[i]) * (std::abs(xhat) + xhat_scale) + std::abs(b[i]);
      g_mean += g / C;
      gx_mean += g * xhat / C;
      g_abs += std::abs(g) / C;
      gx_abs += std::abs(g) * (std::abs(xhat) + xhat_scale) / C;
      r.dweight[i] += d * xhat;
      r.dbias[i] += d;
      r.dweight_mag[i] += std::abs(d) * (std::abs(xhat) + xhat_scale);
      r.dbias_mag[i] += std::abs(d);
    }
    for (int64_t i = 0; i < C; ++i) {
      const double xhat = (row[i] - mean) * rstd, g = dout[n * C + i] * w[i];
      r.dx[n * C + i] = dx0[n * C + i] + rstd * (g - g_mean - xhat * gx_mean);
      r.dx_mag[n * C + i] = std::abs(dx0[n * C + i]) +
                            rstd * (std::abs(g) + g_abs + (std::abs(xhat) + xhat_scale) * gx_abs +
                                    std::abs(xhat) * g_abs * xhat_scale);
    }
  }
  return r;
}


static std::vector<double> scaled(const std::vector<double>& magnitude, double factor) {
  std::vector<double> t(magnitude.size());
  for (size_t i = 0; i < t.size(); ++i) t[i] = factor * magnitude[i] + 1e-30;
  return t;
}

struct LayernormRun {
  std::vector<float> out, mean, rstd, dx, dweight, dbias;
};

struct LayernormData {
  LayernormCase c;
  std::vector<float> x = random_nonzero(c.N * c.C, 41), w = random_nonzero(c.C, 42),
                     b = random_nonzero(c.C, 43);
  std::vector<float> dout = random_nonzero(c.N * c.C, 44);
  std::vector<float> dx0 = random_nonzero(c.N * c.C, 45), dw0 = random_nonzero(c.C, 46),
                     db0 = random_nonzero(c.C, 47);
};

// Forward and backward in one stream (the backward reads the forward's mean and rstd), gradients
// starting from dx0/dw0/db0; `replays` extra submits re-upload the gradients first and must repeat.
static LayernormRun run(vk::Context& context, const LayernormData& d,
                        std::optional<ops::LayernormGroups> groups, int replays = 0) {
  vk::Arena arena(context);
  const auto [N, C] = d.c;
  Tensor x = Tensor::empty(arena, {N, C}), w = Tensor::empty(arena, {C}),
         b = Tensor::empty(arena, {C});
  Tensor out = Tensor::empty(arena, {N, C}), mean = Tensor::empty(arena, {N}),
         rstd = Tensor::empty(arena, {N});
  Tensor dout = Tensor::empty(arena, {N, C}), dx = Tensor::empty(arena, {N, C});
  Tensor dw = Tensor::empty(arena, {C}), db = Tensor::empty(arena, {C});
  upload(arena, x, d.x), upload(arena, w, d.w), upload(arena, b, d.b), upload(arena, dout, d.dout);
  vk::CommandStream stream(context);
  ops::layernorm_forward(stream, x, w, b, out, mean, rstd, groups);
  ops::layernorm_backward(stream, dout, x, w, mean, rstd, dx, dw, db, groups);
  LayernormRun first;
  for (int i = 0; i <= replays; ++i) {
    upload(arena, dx, d.dx0), upload(arena, dw, d.dw0), upload(arena, db, d.db0);
    stream.submit();
    LayernormRun r{download(arena, out), download(arena, mean), download(arena, rstd),
                   download(arena, dx),  download(arena, dw),   download(arena, db)};
    if (i == 0) {
      first = r;
      continue;
    }
    for (auto [a, bb, name] : {std::tuple{&r.out, &first.out, "out"},
                               {&r.mean, &first.mean, "mean"},
                               {&r.rstd, &first.rstd, "rstd"},
                               {&r.dx, &first.dx, "dx"},
                               {&r.dweight, &first.dweight, "dweight"},
                               {&r.dbias, &first.dbias, "dbias"}}) {
      INFO("replay ", i, " changed ", name);
      CHECK(std::memcmp(a->data(), bb->data(), a->size() * sizeof(float)) == 0);
    }
  }
  return first;
}

TEST_CASE_FIXTURE(GpuFixture, "layernorm forward and backward match double precision") {
  auto& context = gpu();
  std::vector<std::optional<ops::LayernormGroups>> shapes{std::nullopt};  // the launcher's choice
  shapes.insert(shapes.end(), std::begin(kGroups), std::end(kGroups));
  for (const auto& c : kCases)
    for (const auto& g : shapes) {
      const std::string label = g ? fmt::format("N={} C={} groups {}/{}x{}", c.N, c.C, g->row,
                                                g->param_channels, g->param_rows)
                                  : fmt::format("N={} C={} default kernel", c.N, c.C);
      CAPTURE(label);
      const LayernormData d{c};
      const auto got = run(context, d, g);
      const auto want = reference(c.N, c.C, d.x, d.w, d.b, d.dout, d.dx0, d.dw0, d.db0);
      // Tolerances, u = 2^-24, inputs in [-1, 1]; a dropped or doubled term misses by >= ~0.05.
      const double u = std::ldexp(1.0, -24), C = static_cast<double>(c.C),
                   N = static_cast<double>(c.N);
      // mean: C terms of |x| <= 1 summed, then divided by C: error <= C·u.
      check_close(label + " mean", got.mean, want.mean, std::vector<double>(c.N, C * u));
      // rstd: the variance sum errs by (C+1)·u relative; inversesqrt adds a few ulps (GPUs
      // approximate it).
      check_close(label + " rstd", got.rstd, want.rstd, scaled(want.rstd, (C + 8) * u));
      // out: xhat carries the mean and rstd errors, then one multiply and one add: (C+8)·u·S.
      check_close(label + " out", got.out, want.out, scaled(want.out_mag, (C + 8) * u));
      // dx: two more C-term means (of g and g·xhat) on top of xhat's error, then rstd·(...) + dx0.
      check_close(label + " dx", got.dx, want.dx, scaled(want.dx_mag, 2 * (C + 8) * u));
      // dweight: N terms dout·xhat plus dw0, each xhat with its own C-scale error: (N+C+8)·u·S.
      check_close(label + " dweight", got.dweight, want.dweight,
                  scaled(want.dweight_mag, (N + C + 8) * u));
      // dbias: N + 1 exact inputs summed: (N+1)·u·S, rigorous.
      check_close(label + " dbias", got.dbias, want.dbias, scaled(want.dbias_mag, (N + 1) * u));
    }
}

TEST_CASE_FIXTURE(GpuFixture, "layernorm replays bit for bit with every workgroup shape") {
  auto& context = gpu();
  const LayernormData d{{37, 101}};
  for (const auto& g : kGroups) {
    CAPTURE(fmt::format("groups {}/{}x{}", g.row, g.param_channels, g.param_rows));
    run(context, d, g, 2);
  }
  // Two separate recordings with the launcher's default give the same bits too (C = 48: the texel
  // kernels on CPU devices).
  for (const LayernormData& dd : {d, LayernormData{{37, 48}}}) {
    run(context, dd, {}, 2);
    const auto a = run(context, dd, {}), b = run(context, dd, {});
    CHECK(std::memcmp(a.dx.data(), b.dx.data(), a.dx.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(a.dweight.data(), b.dweight.data(), a.dweight.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(a.out.data(), b.out.data(), a.out.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("layernorm's hand-derived dx agrees with central finite differences") {
  // Pure CPU check of the reference: L = Σ out·dout, dL/dx_i by perturbing x_i in double.
  // h = 1e-6 on O(1) inputs: truncation ~h^2 and cancellation ~1e-16/h, both below 1e-8.
  const LayernormCase c{3, 11};
  const auto x = random_nonzero(c.N * c.C, 51), w = random_nonzero(c.C, 52),
             b = random_nonzero(c.C, 53);
  const auto dout = random_nonzero(c.N * c.C, 54);
  const std::vector<float> zero_dx(c.N * c.C, 0.0f), zero_c(c.C, 0.0f);
  const auto want = reference(c.N, c.C, x, w, b, dout, zero_dx, zero_c, zero_c);
  auto loss = [&](const std::vector<double>& xd) {
    double l = 0;
    for (int64_t n = 0; n < c.N; ++n) {
      double mean = 0, var = 0;
      for (int64_t i = 0; i < c.C; ++i) mean += xd[n * c.C + i] / c.C;
      for (int64_t i = 0; i < c.C; ++i)
        var += (xd[n * c.C + i] - mean) * (xd[n * c.C + i] - mean) / c.C;
      for (int64_t i = 0; i < c.C; ++i)
        l += ((xd[n * c.C + i] - mean) / std::sqrt(var + 1e-5) * w[i] + b[i]) * dout[n * c.C + i];
    }
    return l;
  };
  std::vector<double> xd(x.begin(), x.end());
  for (int64_t i = 0; i < c.N * c.C; ++i) {
    const double h = 1e-6, keep = xd[i];
    xd[i] = keep + h;
    const double up = loss(xd);
    xd[i] = keep - h;
    const double down = loss(xd);
    xd[i] = keep;
    CAPTURE(i);
    CHECK(std::abs((up - down) / (2 * h) - want.dx[i]) < 1e-6);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "layernorm refuses mismatched shapes") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor x = Tensor::empty(arena, {4, 6}), w = Tensor::empty(arena, {6}),
         w5 = Tensor::empty(arena, {5});
  Tensor out = Tensor::empty(arena, {4, 6}), stats = Tensor::empty(arena, {4}),
         stats3 = Tensor::empty(arena, {3});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::layernorm_forward(stream, x, w5, w, out, stats, stats),
                       doctest::Contains("weight"), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::layernorm_forward(stream, x, w, w, out, stats3, stats),
                       doctest::Contains("mean"), alpha::Error);
  CHECK_THROWS_AS(
      ops::layernorm_forward(stream, x, w, w, out, stats, stats, ops::LayernormGroups{24, 8, 1}),
      alpha::Error);
  CHECK_THROWS_AS(ops::layernorm_backward(stream, out, x, w, stats, stats, out, w5, w),
                  alpha::Error);
}

}  // namespace alpha::test
