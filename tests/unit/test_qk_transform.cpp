// qk_transform_forward/backward (QK-norm and rotary embedding) against a double-precision CPU
// reference, whose backward is itself checked against a finite-difference Jacobian: odd head sizes
// (6, 34), grouped heads (NH = 4, NKV = 2), 37 rows of T = 37 and T = 5, pos0 = 11 into an offset
// KV-cache view, outputs in place, on the texel kernels and the portable ones; and rope_table.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/ops/qk_transform.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

struct QkCase {
  int NH, NKV, HS;
  int64_t N;
  int T;
  int64_t W() const { return int64_t(NH + 2 * NKV) * HS; }
  int64_t qk_heads() const { return NH + NKV; }
};
// HS = 6: three rope pairs; HS = 34: 17 (not a multiple of any vector width). T = 5: positions
// repeat every 5 rows (row n at n % 5), as in a batch of sequences.
static const QkCase kCases[] = {
    {3, 3, 6, 37, 37}, {3, 3, 6, 37, 5}, {4, 2, 34, 37, 37}, {4, 2, 34, 37, 5}};

struct QkFlags {
  bool qk_norm, rope;
  const char* name;
};
static const QkFlags kFlags[] = {
    {true, false, "qk_norm"}, {false, true, "rope"}, {true, true, "qk_norm + rope"}};

constexpr double kTheta = 50.0;  // small: every pair turns by a sizeable angle over 48 positions
constexpr double kUlp = 1.0 / (1 << 24);

// --- the double-precision reference, one head of HS values at a time ---------------------------

// y = rope(norm(x)) for one q/k head; cs is the table row of its position (HS/2 (cos, sin) pairs).
// Returns rstd (1 without qk_norm).
static double head_forward(const double* x, int HS, QkFlags f, const float* cs, double* y) {
  double r = 1;
  if (f.qk_norm) {
    double ss = 0;
    for (int i = 0; i < HS; ++i) ss += x[i] * x[i];
    r = 1 / std::sqrt(ss / HS + 1e-5);
  }
  const int h = HS / 2;
  for (int i = 0; i < h; ++i) {
    const double a = x[i] * r, b = x[i + h] * r;
    const double c = f.rope ? cs[2 * i] : 1.0, s = f.rope ? cs[2 * i + 1] : 0.0;
    y[i] = a * c - b * s;
    y[i + h] = b * c + a * s;
  }
  return r;
}

// dx = J^T dy by the formulas derived by hand: u = R^T dy, then with xhat = x·r,
// dxhat_j/dx_i = r·(δij - xhat_i·xhat_j/HS), so dx = r·(u - xhat·mean(u·xhat)).
static void head_backward(const double* x, const double* dy, int HS, QkFlags f, const float* cs,
                          double r, double* dx) {
  const int h = HS / 2;
  std::vector<double> u(HS);
  for (int i = 0; i < h; ++i) {
    const double c = f.rope ? cs[2 * i] : 1.0, s = f.rope ? cs[2 * i + 1] : 0.0;
    u[i] = dy[i] * c + dy[i + h] * s;
    u[i + h] = dy[i + h] * c - dy[i] * s;
  }
  double m = 0;
  if (f.qk_norm)
    for (int i = 0; i < HS; ++i) m += u[i] * x[i] * r / HS;
  for (int i = 0; i < HS; ++i) dx[i] = f.qk_norm ? r * (u[i] - x[i] * r * m) : u[i];
}

TEST_CASE("qk_transform's reference backward is the transpose of the forward's Jacobian") {
  // Central differences of head_forward in double: J[j][i] = dy_j/dx_i, error ~1e-10.
  for (const int HS : {6, 34})
    for (const auto& f : kFlags) {
      CAPTURE(HS);
      CAPTURE(f.name);
      const auto table = ops::rope_table(8, HS, kTheta);
      const float* cs = &table[7 * HS];  // position 7
      const auto xf = random_nonzero(HS, 61), dyf = random_nonzero(HS, 62);
      const std::vector<double> x(xf.begin(), xf.end()), dy(dyf.begin(), dyf.end());
      std::vector<double> y(HS), dx(HS), jt_dy(HS, 0.0), xp = x, yp(HS), ym(HS);
      const double r = head_forward(x.data(), HS, f, cs, y.data());
      head_backward(x.data(), dy.data(), HS, f, cs, r, dx.data());
      const double step = 1e-6;
      for (int i = 0; i < HS; ++i) {
        xp[i] = x[i] + step;
        head_forward(xp.data(), HS, f, cs, yp.data());
        xp[i] = x[i] - step;
        head_forward(xp.data(), HS, f, cs, ym.data());
        xp[i] = x[i];
        for (int j = 0; j < HS; ++j) jt_dy[i] += (yp[j] - ym[j]) / (2 * step) * dy[j];
      }
      double worst = 0;
      for (int i = 0; i < HS; ++i) worst = std::max(worst, std::abs(jt_dy[i] - dx[i]));
      CHECK(worst < 1e-7);
    }
}

// Every row: out and dx per element with magnitudes for the tolerances, rstd per (row, q/k head).
struct QkReference {
  std::vector<double> out, out_mag, rstd, dx, dx_mag;
};

static QkReference reference(const QkCase& c, QkFlags f, int pos0, const std::vector<float>& x,
                             const std::vector<float>& dy, const std::vector<float>& table) {
  const int HS = c.HS, h = HS / 2;
  const int64_t W = c.W();
  QkReference r;
  r.out.resize(c.N * W), r.out_mag.resize(c.N * W), r.dx.resize(c.N * W), r.dx_mag.resize(c.N * W);
  r.rstd.resize(c.N * c.qk_heads());
  std::vector<double> xd(HS), dyd(HS);
  for (int64_t n = 0; n < c.N; ++n) {
    const float* cs = &table[(pos0 + n % c.T) * HS];
    for (int64_t head = 0; head < c.NH + 2 * c.NKV; ++head) {
      const int64_t base = n * W + head * HS;
      if (head >= c.qk_heads()) {  // v: copied (checked exactly)
        for (int i = 0; i < HS; ++i) r.out[base + i] = x[base + i], r.dx[base + i] = dy[base + i];
        continue;
      }
      for (int i = 0; i < HS; ++i) xd[i] = x[base + i], dyd[i] = dy[base + i];
      const double rstd = head_forward(xd.data(), HS, f, cs, &r.out[base]);
      head_backward(xd.data(), dyd.data(), HS, f, cs, rstd, &r.dx[base]);
      r.rstd[n * c.qk_heads() + head] = rstd;
      // Magnitudes: each output element is a few products of pair (i, i + HS/2)'s values.
      double m_abs = 0;  // |mean(u·xhat)|'s bound
      for (int i = 0; i < HS; ++i)
        m_abs += (std::abs(dyd[i % h]) + std::abs(dyd[i % h + h])) * std::abs(xd[i]) * rstd / HS;
      for (int i = 0; i < HS; ++i) {
        const double pair_x = std::abs(xd[i % h]) + std::abs(xd[i % h + h]);
        const double pair_dy = std::abs(dyd[i % h]) + std::abs(dyd[i % h + h]);
        r.out_mag[base + i] = rstd * pair_x;
        r.dx_mag[base + i] = rstd * (pair_dy + std::abs(xd[i]) * rstd * m_abs);
      }
    }
  }
  return r;
}

// --- runs on the device -------------------------------------------------------------------------

struct QkRun {
  std::vector<float> out, rstd, dx;
};

// Forward (pos0 = 0) then backward in one stream. in_place: the forward overwrites a copy of the
// input and the backward overwrites dqkv_out.
static QkRun run(vk::Context& context, const QkCase& c, QkFlags f, bool in_place,
                 const std::vector<float>& x, const std::vector<float>& dy,
                 const std::vector<float>& table_host) {
  vk::Arena arena(context);
  const int64_t N = c.N, W = c.W();
  Tensor qkv = Tensor::empty(arena, {N, W}), out = Tensor::empty(arena, {N, W});
  Tensor rstd = Tensor::empty(arena, {N, c.qk_heads()});
  Tensor table = Tensor::empty(arena, {int64_t(table_host.size()) / c.HS, c.HS / 2, 2});
  Tensor dout = Tensor::empty(arena, {N, W}), dqkv = Tensor::empty(arena, {N, W});
  upload(arena, qkv, x), upload(arena, table, table_host), upload(arena, dout, dy);
  upload(arena, out, in_place ? x : std::vector<float>(N * W, 123.0f));
  upload(arena, dqkv, std::vector<float>(N * W, 123.0f));  // overwritten, not accumulated
  const ops::QkTransform qk{c.NH, c.NKV, c.HS, f.qk_norm, f.rope};
  // The operand a flag leaves unused is an empty Tensor: never bound.
  const Tensor& rstd_arg = f.qk_norm ? rstd : Tensor{};
  const Tensor& table_arg = f.rope ? table : Tensor{};
  vk::CommandStream stream(context);
  ops::qk_transform_forward(stream, qk, in_place ? out : qkv, out, rstd_arg, table_arg, c.T, 0);
  ops::qk_transform_backward(stream, qk, dout, qkv, rstd_arg, table_arg, in_place ? dout : dqkv,
                             c.T);
  stream.submit();
  return {download(arena, out), f.qk_norm ? download(arena, rstd) : std::vector<float>{},
          download(arena, in_place ? dout : dqkv)};
}

static std::vector<double> scaled(const std::vector<double>& magnitude, double factor) {
  std::vector<double> t(magnitude.size());
  for (size_t i = 0; i < t.size(); ++i) t[i] = factor * magnitude[i] + 1e-30;
  return t;
}

// The v columns of every row, exactly.
static void check_v_copied(const QkCase& c, const std::vector<float>& got,
                           const std::vector<float>& want, const char* what) {
  int64_t mismatches = 0;
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t j = c.qk_heads() * c.HS; j < c.W(); ++j)
      mismatches += std::memcmp(&got[n * c.W() + j], &want[n * c.W() + j], 4) != 0;
  INFO(what, ": v columns that are not exact copies");
  CHECK(mismatches == 0);
}

static void check_against_reference(vk::Context& context) {
  for (const auto& c : kCases)
    for (const auto& f : kFlags)
      for (const bool in_place : {false, true}) {
        INFO(fmt::format("NH={} NKV={} HS={} N={} T={} {}{}", c.NH, c.NKV, c.HS, c.N, c.T, f.name,
                         in_place ? ", in place" : ""));
        const auto x = random_nonzero(c.N * c.W(), 51), dy = random_nonzero(c.N * c.W(), 52);
        const auto table = ops::rope_table(c.T, c.HS, kTheta);
        const QkRun got = run(context, c, f, in_place, x, dy, table);
        const QkReference want = reference(c, f, 0, x, dy, table);
        // out: rstd from a sum of HS squares and inversesqrt (HS/2 + 3 ulp), then the scale and
        // rotation (4 roundings): (HS + 8) ulp of the pair's magnitude.
        check_close("out", got.out, want.out, scaled(want.out_mag, (c.HS + 8) * kUlp));
        if (f.qk_norm) {
          std::vector<double> rstd_tol(want.rstd.size());
          for (size_t i = 0; i < rstd_tol.size(); ++i)
            rstd_tol[i] = (c.HS + 4) * kUlp * want.rstd[i];
          check_close("rstd", got.rstd, want.rstd, rstd_tol);
        }
        // dx: rstd's error enters up to three times (r·u and r³·x·dot), the dot a sum of HS
        // products: (3·HS + 20) ulp of the magnitude.
        check_close("dx", got.dx, want.dx, scaled(want.dx_mag, (3 * c.HS + 20) * kUlp));
        check_v_copied(c, got.out, x, "out");
        check_v_copied(c, got.dx, dy, "dx");
      }
}

TEST_CASE_FIXTURE(GpuFixture, "qk_transform forward and backward match the reference") {
  check_against_reference(gpu());
}

TEST_CASE("qk_transform matches the reference on the portable kernels (ALPHA_DISABLE_TEXEL)") {
  setenv("ALPHA_DISABLE_TEXEL", "1", 1);
  vk::ValidationLog log;
  {
    vk::Context context(validated(log));
    CHECK_FALSE(context.texel_kernels());
    check_against_reference(context);
  }
  unsetenv("ALPHA_DISABLE_TEXEL");
  CHECK(log.count() == 0);
}

// Decoding: the new rows (pos0 = 11 on) written into rows 11.. of a KV-cache-like tensor, whose
// row offset (W = 54 floats: 216 bytes) is not a multiple of the storage-buffer alignment; the
// cache rows around them stay untouched.
TEST_CASE_FIXTURE(GpuFixture, "qk_transform writes positions pos0.. into an offset cache view") {
  auto& context = gpu();
  for (const QkCase c : {QkCase{3, 3, 6, 5, 1 << 20}, QkCase{4, 2, 34, 3, 1 << 20}}) {
    for (const auto& f : kFlags) {
      INFO(fmt::format("NH={} NKV={} HS={} N={} {}", c.NH, c.NKV, c.HS, c.N, f.name));
      const int pos0 = 11;
      const int64_t rows = 20, W = c.W();
      vk::Arena arena(context);
      Tensor qkv = Tensor::empty(arena, {c.N, W}), cache = Tensor::empty(arena, {rows, W});
      Tensor rstd = Tensor::empty(arena, {c.N, c.qk_heads()});
      const auto table_host = ops::rope_table(pos0 + int(c.N), c.HS, kTheta);
      Tensor table = Tensor::empty(arena, {int64_t(table_host.size())});
      const auto x = random_nonzero(c.N * W, 53);
      upload(arena, qkv, x), upload(arena, table, table_host);
      upload(arena, cache, std::vector<float>(rows * W, 7.0f));
      const Tensor view{{c.N, W}, DType::f32, cache.slice.sub(pos0 * W * 4, c.N * W * 4)};
      vk::CommandStream stream(context);
      ops::qk_transform_forward(stream, {c.NH, c.NKV, c.HS, f.qk_norm, f.rope}, qkv, view, rstd,
                                table, c.T, pos0);
      stream.submit();
      const auto got = download(arena, cache);
      const std::vector<float> got_rows(got.begin() + pos0 * W, got.begin() + (pos0 + c.N) * W);
      const QkReference want = reference(c, f, pos0, x, x, table_host);
      check_close("out", got_rows, want.out, scaled(want.out_mag, (c.HS + 8) * kUlp));
      check_v_copied(c, got_rows, x, "out");
      int64_t touched = 0;
      for (int64_t i = 0; i < rows * W; ++i)
        if (i < pos0 * W || i >= (pos0 + c.N) * W) touched += got[i] != 7.0f;
      CHECK(touched == 0);
    }
  }
}

TEST_CASE("rope_table matches a direct double-precision computation") {
  for (const int HS : {6, 34, 64})
    for (const double theta : {10000.0, kTheta}) {
      CAPTURE(HS);
      CAPTURE(theta);
      const int seq = 300;
      const auto table = ops::rope_table(seq, HS, theta);
      REQUIRE(table.size() == size_t(seq) * HS);
      double worst = 0;
      for (int pos = 0; pos < seq; ++pos)
        for (int i = 0; i < HS / 2; ++i) {
          const double angle = pos * std::exp(-std::log(theta) * (2.0 * i) / HS);
          worst = std::max({worst, std::abs(table[(pos * HS / 2 + i) * 2] - std::cos(angle)),
                            std::abs(table[(pos * HS / 2 + i) * 2 + 1] - std::sin(angle))});
        }
      CHECK(worst <= 3.5e-8);   // rounding to float: half an ulp of values <= 1, 2^-25
      CHECK(table[0] == 1.0f);  // position 0: no rotation
      CHECK(table[1] == 0.0f);
      CHECK(table[(7 * HS / 2) * 2] == static_cast<float>(std::cos(7.0)));  // i = 0: angle = pos
    }
  CHECK_THROWS_WITH_AS(ops::rope_table(4, 7, 1e4), doctest::Contains("even"), alpha::Error);
}

TEST_CASE_FIXTURE(GpuFixture, "qk_transform refuses bad shapes") {
  auto& context = gpu();
  vk::Arena arena(context);
  const QkCase c{4, 2, 6, 5, 5};
  Tensor qkv = Tensor::empty(arena, {c.N, c.W()}), out = Tensor::empty(arena, {c.N, c.W()});
  Tensor rstd = Tensor::empty(arena, {c.N, c.qk_heads()});
  Tensor table = Tensor::empty(arena, {4, c.HS / 2, 2});  // positions 0..3: one short
  vk::CommandStream stream(context);
  auto forward = [&](ops::QkTransform qk, const Tensor& t, int T, int pos0) {
    ops::qk_transform_forward(stream, qk, qkv, out, rstd, t, T, pos0);
  };
  CHECK_THROWS_WITH_AS(forward({4, 2, 6, false, true}, table, 5, 0),
                       doctest::Contains("rope_table"), alpha::Error);
  CHECK_THROWS_WITH_AS(forward({4, 3, 6, true, false}, table, 5, 0), doctest::Contains("NKV"),
                       alpha::Error);
  CHECK_THROWS_WITH_AS(forward({4, 2, 5, true, false}, table, 5, 0), doctest::Contains("even"),
                       alpha::Error);
  CHECK_THROWS_WITH_AS(forward({3, 3, 6, true, false}, table, 5, 0), doctest::Contains("(N, W)"),
                       alpha::Error);
  Tensor short_rstd = Tensor::empty(arena, {c.N, c.NH});
  CHECK_THROWS_WITH_AS(ops::qk_transform_backward(stream, {4, 2, 6, true, false}, out, qkv,
                                                  short_rstd, table, out, 5),
                       doctest::Contains("rstd"), alpha::Error);
  forward({4, 2, 6, true, true}, table, 4, 0);  // T = 4: positions 0..3 fit
  CHECK(stream.dispatch_count() == 1);
}

}  // namespace alpha::test
