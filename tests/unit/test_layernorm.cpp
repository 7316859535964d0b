// norm_forward and norm_backward (LayerNorm and RMSNorm, with and without weight and bias; the
// layernorm_* wrappers for the full LayerNorm) against double-precision CPU references: odd sizes
// (C = 48, 101; 37 rows; N = 1), every workgroup shape the launcher uses, accumulation into
// non-zero gradients, and bit-identical replays. Then norm_matmul_nt, fused and not.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/ops/layernorm.h"
#include "engine/ops/matmul.h"
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

// Which norm, and whether it has a weight and a bias (absent: w = 1, b = 0, no gradient).
struct NormSpec {
  ops::NormKind kind = ops::NormKind::layernorm;
  bool weight = true, bias = true;
  bool rms() const { return kind == ops::NormKind::rmsnorm; }
  std::string name() const {
    return fmt::format("{}{}{}", rms() ? "rmsnorm" : "layernorm", weight ? " +weight" : "",
                       bias ? " +bias" : "");
  }
};
static const NormSpec kSpecs[] = {{ops::NormKind::layernorm, true, true},
                                  {ops::NormKind::layernorm, true, false},
                                  {ops::NormKind::layernorm, false, false},
                                  {ops::NormKind::rmsnorm, true, false},
                                  {ops::NormKind::rmsnorm, false, false}};

// Double-precision results, and per element the magnitude S of the terms that make it up: fp32 sums
// of k terms err by at most k·2^-24·S in any order, which is how every tolerance below is formed.
struct Reference {
  std::vector<double> out, mean, rstd, dx, dweight, dbias;
  std::vector<double> out_mag, dx_mag, dweight_mag, dbias_mag;
};

// Forward, then the backward formulas derived by hand. With xhat = (x - mean)·rstd, g = dout·w:
//   LayerNorm: dxhat_j/dx_i = rstd·(δij - 1/C - xhat_i·xhat_j/C), so
//     dx_i = rstd·(g_i - mean(g) - xhat_i·mean(g·xhat));
//   RMSNorm (mean = 0, rstd = 1/sqrt(mean(x²) + eps)): dxhat_j/dx_i = rstd·(δij - xhat_i·xhat_j/C),
//     so dx_i = rstd·(g_i - xhat_i·mean(g·xhat));
//   dweight = Σ_n dout·xhat; dbias = Σ_n dout.
// An empty w or b is absent (w = 1, b = 0). The gradients include the starting values dx0, dw0,
// db0 (they accumulate).
static Reference reference(ops::NormKind kind, int64_t N, int64_t C, const std::vector<float>& x,
                           const std::vector<float>& w, const std::vector<float>& b,
                           const std::vector<float>& dout, const std::vector<float>& dx0,
                           const std::vector<float>& dw0, const std::vector<float>& db0) {
  const bool rms = kind == ops::NormKind::rmsnorm;
  auto w_at = [&](int64_t i) { return w.empty() ? 1.0 : double(w[i]); };
  auto b_at = [&](int64_t i) { return b.empty() ? 0.0 : double(b[i]); };
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
    if (!rms) {
      for (int64_t i = 0; i < C; ++i) mean += row[i];
      mean /= C;
    }
    for (int64_t i = 0; i < C; ++i) {
      var += (row[i] - mean) * (row[i] - mean);
      spread = std::max(spread, std::abs(row[i] - mean));
    }
    const double rstd = 1.0 / std::sqrt(var / C + 1e-5);
    r.mean[n] = mean, r.rstd[n] = rstd;
    // xhat's own error is ~C·2^-24·(rstd·spread + |xhat|): the mean's error times rstd (LayerNorm
    // only: RMSNorm subtracts no mean), plus rstd's.
    const double xhat_scale = rms ? 0.0 : rstd * spread;
    double g_mean = 0, gx_mean = 0, g_abs = 0, gx_abs = 0;
    for (int64_t i = 0; i < C; ++i) {
      const double xhat = (row[i] - mean) * rstd, d = dout[n * C + i], g = d * w_at(i);
      r.out[n * C + i] = xhat * w_at(i) + b_at(i);
      r.out_mag[n * C + i] = std::abs(w_at(i)) * (std::abs(xhat) + xhat_scale) + std::abs(b_at(i));
      g_mean += g / C;
      gx_mean += g * xhat / C;
      g_abs += std::abs(g) / C;
      gx_abs += std::abs(g) * (std::abs(xhat) + xhat_scale) / C;
      r.dweight[i] += d * xhat;
      r.dbias[i] += d;
      r.dweight_mag[i] += std::abs(d) * (std::abs(xhat) + xhat_scale);
      r.dbias_mag[i] += std::abs(d);
    }
    if (rms) g_mean = g_abs = 0;  // no mean subtracted, no mean(g) term
    for (int64_t i = 0; i < C; ++i) {
      const double xhat = (row[i] - mean) * rstd, g = dout[n * C + i] * w_at(i);
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
  NormSpec spec = {};
  std::vector<float> x = random_nonzero(c.N * c.C, 41), w = random_nonzero(c.C, 42),
                     b = random_nonzero(c.C, 43);
  std::vector<float> dout = random_nonzero(c.N * c.C, 44);
  std::vector<float> dx0 = random_nonzero(c.N * c.C, 45), dw0 = random_nonzero(c.C, 46),
                     db0 = random_nonzero(c.C, 47);
};

// Forward and backward in one stream (the backward reads the forward's mean and rstd), gradients
// starting from dx0/dw0/db0; `replays` extra submits re-upload the gradients first and must repeat.
// The full LayerNorm goes through the layernorm_* wrappers, every other spec through norm_*;
// absent parameters leave their results empty.
static LayernormRun run(vk::Context& context, const LayernormData& d,
                        std::optional<ops::LayernormGroups> groups, int replays = 0) {
  vk::Arena arena(context);
  const auto [N, C] = d.c;
  const NormSpec s = d.spec;
  Tensor x = Tensor::empty(arena, {N, C}), w = Tensor::empty(arena, {C}),
         b = Tensor::empty(arena, {C});
  Tensor out = Tensor::empty(arena, {N, C}), mean = Tensor::empty(arena, {N}),
         rstd = Tensor::empty(arena, {N});
  Tensor dout = Tensor::empty(arena, {N, C}), dx = Tensor::empty(arena, {N, C});
  Tensor dw = Tensor::empty(arena, {C}), db = Tensor::empty(arena, {C});
  upload(arena, x, d.x), upload(arena, w, d.w), upload(arena, b, d.b), upload(arena, dout, d.dout);
  vk::CommandStream stream(context);
  if (!s.rms() && s.weight && s.bias) {
    ops::layernorm_forward(stream, x, w, b, out, mean, rstd, groups);
    ops::layernorm_backward(stream, dout, x, w, mean, rstd, dx, dw, db, groups);
  } else {
    const Tensor *wp = s.weight ? &w : nullptr, *bp = s.bias ? &b : nullptr;
    ops::norm_forward(stream, s.kind, x, wp, bp, out, mean, rstd, groups);
    ops::norm_backward(stream, s.kind, dout, x, wp, mean, rstd, dx, s.weight ? &dw : nullptr,
                       bp ? &db : nullptr, groups);
  }
  // forward, dx, and dweight/dbias only with a weight
  CHECK(stream.dispatch_count() == (s.weight ? 3u : 2u));
  LayernormRun first;
  for (int i = 0; i <= replays; ++i) {
    upload(arena, dx, d.dx0), upload(arena, dw, d.dw0), upload(arena, db, d.db0);
    stream.submit();
    LayernormRun r{download(arena, out), download(arena, mean), download(arena, rstd),
                   download(arena, dx)};
    if (s.weight) r.dweight = download(arena, dw);
    if (s.bias) r.dbias = download(arena, db);
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

// One run of d against the reference, every output within its tolerance.
static void check_against_reference(vk::Context& context, const std::string& label,
                                    const LayernormData& d, std::optional<ops::LayernormGroups> g) {
  const LayernormCase c = d.c;
  const auto got = run(context, d, g);
  const std::vector<float> none;
  const auto want = reference(d.spec.kind, c.N, c.C, d.x, d.spec.weight ? d.w : none,
                              d.spec.bias ? d.b : none, d.dout, d.dx0, d.dw0, d.db0);
  // Tolerances, u = 2^-24, inputs in [-1, 1]; a dropped or doubled term misses by >= ~0.05.
  const double u = std::ldexp(1.0, -24), C = static_cast<double>(c.C), N = static_cast<double>(c.N);
  // mean: C terms of |x| <= 1 summed, then divided by C: error <= C·u (RMSNorm: exactly 0).
  check_close(label + " mean", got.mean, want.mean,
              std::vector<double>(c.N, d.spec.rms() ? 1e-30 : C * u));
  // rstd: the variance sum errs by (C+1)·u relative; inversesqrt adds a few ulps (GPUs
  // approximate it).
  check_close(label + " rstd", got.rstd, want.rstd, scaled(want.rstd, (C + 8) * u));
  // out: xhat carries the mean and rstd errors, then one multiply and one add: (C+8)·u·S.
  check_close(label + " out", got.out, want.out, scaled(want.out_mag, (C + 8) * u));
  // dx: two more C-term means (of g and g·xhat) on top of xhat's error, then rstd·(...) + dx0.
  check_close(label + " dx", got.dx, want.dx, scaled(want.dx_mag, 2 * (C + 8) * u));
  // dweight: N terms dout·xhat plus dw0, each xhat with its own C-scale error: (N+C+8)·u·S.
  if (d.spec.weight)
    check_close(label + " dweight", got.dweight, want.dweight,
                scaled(want.dweight_mag, (N + C + 8) * u));
  // dbias: N + 1 exact inputs summed: (N+1)·u·S, rigorous.
  if (d.spec.bias)
    check_close(label + " dbias", got.dbias, want.dbias, scaled(want.dbias_mag, (N + 1) * u));
}

TEST_CASE_FIXTURE(
    GpuFixture, "layernorm and rmsnorm, with and without weight and bias, match double precision") {
  auto& context = gpu();
  std::vector<std::optional<ops::LayernormGroups>> shapes{std::nullopt};  // the launcher's choice
  shapes.insert(shapes.end(), std::begin(kGroups), std::end(kGroups));
  for (const auto& spec : kSpecs)
    for (const auto& c : kCases)
      for (const auto& g : shapes) {
        const std::string label =
            spec.name() + (g ? fmt::format(" N={} C={} groups {}/{}x{}", c.N, c.C, g->row,
                                           g->param_channels, g->param_rows)
                             : fmt::format(" N={} C={} default kernel", c.N, c.C));
        CAPTURE(label);
        check_against_reference(context, label, LayernormData{c, spec}, g);
      }
}

TEST_CASE_FIXTURE(GpuFixture, "norms replay bit for bit with every workgroup shape") {
  auto& context = gpu();
  for (const NormSpec& spec : kSpecs) {
    CAPTURE(spec.name());
    const LayernormData d{{37, 101}, spec};
    for (const auto& g : kGroups) {
      CAPTURE(fmt::format("groups {}/{}x{}", g.row, g.param_channels, g.param_rows));
      run(context, d, g, 2);
    }
    // Two separate recordings with the launcher's default give the same bits too (C = 48: the
    // texel kernels on CPU devices).
    for (const LayernormData& dd : {d, LayernormData{{37, 48}, spec}}) {
      run(context, dd, {}, 2);
      const auto a = run(context, dd, {}), b = run(context, dd, {});
      for (auto [x, y] : {std::pair{&a.out, &b.out},
                          {&a.rstd, &b.rstd},
                          {&a.dx, &b.dx},
                          {&a.dweight, &b.dweight},
                          {&a.dbias, &b.dbias}})
        CHECK(std::memcmp(x->data(), y->data(), x->size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("the norms' hand-derived dx agrees with central finite differences") {
  // Pure CPU check of the reference: L = Σ out·dout, dL/dx_i by perturbing x_i in double.
  // h = 1e-6 on O(1) inputs: truncation ~h^2 and cancellation ~1e-16/h, both below 1e-8.
  for (const auto kind : {ops::NormKind::layernorm, ops::NormKind::rmsnorm}) {
    const bool rms = kind == ops::NormKind::rmsnorm;
    CAPTURE(rms);
    const LayernormCase c{3, 11};
    const auto x = random_nonzero(c.N * c.C, 51), w = random_nonzero(c.C, 52),
               b = rms ? std::vector<float>(c.C, 0.0f) : random_nonzero(c.C, 53);
    const auto dout = random_nonzero(c.N * c.C, 54);
    const std::vector<float> zero_dx(c.N * c.C, 0.0f), zero_c(c.C, 0.0f);
    const auto want = reference(kind, c.N, c.C, x, w, b, dout, zero_dx, zero_c, zero_c);
    auto loss = [&](const std::vector<double>& xd) {
      double l = 0;
      for (int64_t n = 0; n < c.N; ++n) {
        double mean = 0, var = 0;
        if (!rms)
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
  // rmsnorm takes no bias; a bias needs a weight; a weight needs a dweight (and back)
  const auto rms = ops::NormKind::rmsnorm, ln = ops::NormKind::layernorm;
  CHECK_THROWS_WITH_AS(ops::norm_forward(stream, rms, x, &w, &w, out, stats, stats),
                       doctest::Contains("rmsnorm takes no bias"), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::norm_forward(stream, ln, x, nullptr, &w, out, stats, stats),
                       doctest::Contains("no weight"), alpha::Error);
  CHECK_THROWS_AS(ops::norm_forward(stream, rms, x, &w5, nullptr, out, stats, stats), alpha::Error);
  CHECK_THROWS_WITH_AS(
      ops::norm_backward(stream, rms, out, x, &w, stats, stats, out, nullptr, nullptr),
      doctest::Contains("dweight"), alpha::Error);
  CHECK_THROWS_AS(ops::norm_backward(stream, rms, out, x, nullptr, stats, stats, out, &w, nullptr),
                  alpha::Error);
  CHECK_THROWS_AS(ops::norm_backward(stream, rms, out, x, &w, stats, stats, out, &w, &w),
                  alpha::Error);
  CHECK(stream.dispatch_count() == 0);
}

// norm_matmul_nt: norm(x) (M,K) · wᵀ (N,K) + bias, then optionally the activation, in double. At
// most 4 rows with K % 4 == 0: one fused dispatch on devices with texel kernels (matvec_texel.comp
// NORM, GELU/RELU2); 5 rows or K % 4 != 0: norm_forward, matmul and activation_forward. K/4 = 25
// and 9 texels leave a tail after the fused kernel's 8-texel steps; N = 70 and 37 are no multiple
// of its 16 columns.
TEST_CASE_FIXTURE(GpuFixture, "norm_matmul_nt matches norm, matmul and activation in double") {
  struct Case {
    int64_t M, N, K;
    NormSpec spec;
    std::optional<ops::Activation> act;
  };
  const auto rms = ops::NormKind::rmsnorm, ln = ops::NormKind::layernorm;
  const auto relu2 = ops::Activation::relu2, gelu = ops::Activation::gelu;
  const Case cases[] = {
      {1, 70, 100, {rms, true, false}, {}},     {3, 37, 36, {rms, true, false}, relu2},
      {4, 70, 100, {rms, false, false}, relu2}, {2, 37, 36, {rms, false, false}, gelu},
      {1, 70, 100, {ln, true, false}, relu2},   {2, 37, 256, {ln, false, false}, {}},
      {4, 37, 36, {ln, true, true}, relu2},     {5, 70, 100, {rms, true, false}, relu2},
      {5, 37, 36, {rms, false, false}, {}},     {1, 37, 38, {rms, true, false}, relu2},
      {3, 70, 38, {ln, true, false}, gelu}};
  auto& context = gpu();
  for (const Case& c : cases) {
    const bool fused = context.texel_kernels() && c.M <= 4 && c.K % 4 == 0;
    const std::string label = fmt::format("{} M={} N={} K={} {}{}", c.spec.name(), c.M, c.N, c.K,
                                          !c.act            ? "no activation"
                                          : *c.act == relu2 ? "relu2"
                                                            : "gelu",
                                          fused ? " (fused)" : "");
    CAPTURE(label);
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {c.M, c.K}), nw = Tensor::empty(arena, {c.K}),
           nb = Tensor::empty(arena, {c.K});
    Tensor w = Tensor::empty(arena, {c.N, c.K}), bias = Tensor::empty(arena, {c.N});
    Tensor out = Tensor::empty(arena, {c.M, c.N}), act = Tensor::empty(arena, {c.M, c.N});
    Tensor normed = Tensor::empty(arena, {c.M, c.K}), mean = Tensor::empty(arena, {c.M}),
           rstd = Tensor::empty(arena, {c.M});
    const auto xh = random_nonzero(x.numel(), 31), nwh = random_nonzero(c.K, 32),
               nbh = random_nonzero(c.K, 33);
    const auto wh = random_nonzero(w.numel(), 34), bh = random_nonzero(c.N, 35);
    upload(arena, x, xh), upload(arena, nw, nwh), upload(arena, nb, nbh);
    upload(arena, w, wh), upload(arena, bias, bh);
    vk::CommandStream stream(context);
    ops::norm_matmul_nt(stream, c.spec.kind, x, c.spec.weight ? &nw : nullptr,
                        c.spec.bias ? &nb : nullptr, w, bias, out, normed, mean, rstd,
                        c.act ? &act : nullptr, c.act.value_or(gelu));
    CHECK(stream.dispatch_count() == (fused ? 1u : c.act ? 3u : 2u));
    stream.submit();
    const auto got = download(arena, c.act ? act : out);

    // The norm's reference values and magnitudes (reference() above), then the projection: fp32
    // sums of K + 1 terms err by (K+1)·u·S, each term's a by the norm's (K+8)·u: (2K+16)·u·S.
    const std::vector<float> none, zero_mk(c.M * c.K), zero_k(c.K);  // no backward here
    const auto r = reference(c.spec.kind, c.M, c.K, xh, c.spec.weight ? nwh : none,
                             c.spec.bias ? nbh : none, zero_mk, zero_mk, zero_k, zero_k);
    const double u = std::ldexp(1.0, -24), K = static_cast<double>(c.K);
    std::vector<double> want(c.M * c.N), tolerance(c.M * c.N);
    for (int64_t m = 0; m < c.M; ++m)
      for (int64_t n = 0; n < c.N; ++n) {
        double y = bh[n], magnitude = std::abs(bh[n]);
        for (int64_t k = 0; k < c.K; ++k) {
          y += r.out[m * c.K + k] * wh[n * c.K + k];
          magnitude += r.out_mag[m * c.K + k] * std::abs(wh[n * c.K + k]);
        }
        double e = (2 * K + 16) * u * magnitude + 1e-30;
        if (c.act == relu2) {
          // max(y, 0)² moves by 2·|y|·e + e², plus its own rounding
          const double p = std::max(y, 0.0);
          e = 2 * std::abs(y) * e + e * e + 2 * u * p * p + 1e-30;
          y = p * p;
        } else if (c.act == gelu) {
          // |gelu'| <= 1.13; the kernel's tanh adds 5e-7·(1 + |y|) (test_gelu.cpp)
          e = 1.13 * e + 5e-7 * (1 + std::abs(y));
          y = 0.5 * y * (1.0 + std::tanh(0.7978845608028654 * (y + 0.044715 * y * y * y)));
        }
        want[m * c.N + n] = y;
        tolerance[m * c.N + n] = e;
      }
    check_close(label, got, want, tolerance);
  }
}

}  // namespace alpha::test
