// matmul (all three layouts, bias, accumulate, several tiles) against a double-precision CPU
// reference on random non-zero inputs whose sizes are not multiples of any tile.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <array>
#include <cmath>

#include "engine/ops/matmul.h"
#include "engine/ops/matmul_tuning.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

using ops::Layout;

struct MatmulCase {
  int64_t M, N, K;
  Layout layout;
  bool bias;
  bool accumulate;
};

static const char* layout_name(Layout l) { return l == Layout::NN ? "NN" : l == Layout::NT ? "NT" : "TN"; }

// Reference in double; also returns sum_k |a·b| per element, which bounds the fp32 rounding error.
static void reference(const MatmulCase& c, const std::vector<float>& a, const std::vector<float>& b,
                      const std::vector<float>& bias, const std::vector<float>& c0, std::vector<double>& out,
                      std::vector<double>& magnitude) {
  out.assign(c.M * c.N, 0.0);
  magnitude.assign(c.M * c.N, 0.0);
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      double sum = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        double av = c.layout == Layout::TN ? a[k * c.M + m] : a[m * c.K + k];
        double bv = c.layout == Layout::NT ? b[n * c.K + k] : b[k * c.N + n];
        sum += av * bv;
        mag += std::abs(av * bv);
      }
      if (c.bias) sum += bias[n], mag += std::abs(bias[n]);
      if (c.accumulate) sum += c0[m * c.N + n], mag += std::abs(c0[m * c.N + n]);
      out[m * c.N + n] = sum;
      magnitude[m * c.N + n] = mag;
    }
}

// a_dtype, b_dtype: f16 operands are stored rounded to f16; the reference takes the rounded values,
// so the kernel is held to the same f32 accumulation bound.
// coopmat: run ops::matmul_coopmat (emulated or on the device's matrix cores) instead of
// ops::matmul; it rounds an f32 a to f16 as it stages it, so the reference takes a rounded too.
enum class Coopmat { no, emulated, device };
static void check_matmul(const MatmulCase& c, std::optional<ops::MatmulTile> tile,
                         DType a_dtype = DType::f32, DType b_dtype = DType::f32,
                         Coopmat coopmat = Coopmat::no) {
  auto& context = gpu();
  vk::Arena arena(context);
  const bool ta = c.layout == Layout::TN, tb = c.layout == Layout::NT;
  Tensor a = Tensor::empty(
      arena, ta ? std::vector<int64_t>{c.K, c.M} : std::vector<int64_t>{c.M, c.K}, a_dtype);
  Tensor b = Tensor::empty(
      arena, tb ? std::vector<int64_t>{c.N, c.K} : std::vector<int64_t>{c.K, c.N}, b_dtype);
  Tensor bias = Tensor::empty(arena, {c.N});
  Tensor out = Tensor::empty(arena, {c.M, c.N});
  auto a_host = random_nonzero(a.numel(), 11), b_host = random_nonzero(b.numel(), 12);
  auto bias_host = random_nonzero(c.N, 13), c0_host = random_nonzero(out.numel(), 14);
  upload(arena, a, a_host);
  upload(arena, b, b_host);
  upload(arena, bias, bias_host);
  upload(arena, out, c0_host);
  a_host = download(arena, a), b_host = download(arena, b);  // as stored (f16: rounded)
  if (coopmat != Coopmat::no) {
    Tensor rounded = Tensor::empty(arena, a.shape, DType::f16);
    upload(arena, rounded, a_host);
    a_host = download(arena, rounded);
  }

  vk::CommandStream stream(context);
  if (coopmat == Coopmat::no)
    ops::matmul(stream, a, b, out, c.layout, c.bias ? &bias : nullptr, c.accumulate, tile);
  else
    ops::matmul_coopmat(stream, ops::MatrixView::of(a), ops::MatrixView::of(b),
                        ops::MatrixView::of(out), c.layout, c.bias ? &bias : nullptr, c.accumulate,
                        coopmat == Coopmat::emulated);
  stream.submit();
  auto got = download(arena, out);

  std::vector<double> want, magnitude;
  reference(c, a_host, b_host, bias_host, c0_host, want, magnitude);
  // Tolerance: fp32 summation of K+2 terms has error at most (K+2)·2^-23·sum|terms| (a rigorous bound
  // for any summation order); a kernel that drops or repeats a term misses it by ~|term| >= 0.0025.
  const double unit = std::ldexp(1.0, -23);
  double worst = 0;
  int64_t worst_index = -1;
  for (int64_t i = 0; i < c.M * c.N; ++i) {
    double excess = std::abs(got[i] - want[i]) / ((c.K + 2) * unit * magnitude[i] + 1e-30);
    if (excess > worst) worst = excess, worst_index = i;
  }
  INFO(fmt::format("{} M={} N={} K={} bias={} accumulate={} tile={} a {} b {} coopmat {}",
                   layout_name(c.layout), c.M, c.N, c.K, c.bias, c.accumulate,
                   tile ? tile->to_string() : "default", dtype_name(a_dtype), dtype_name(b_dtype),
                   static_cast<int>(coopmat)));
  INFO(fmt::format("worst element {} (m={}, n={}): got {} want {}", worst_index, worst_index / c.N,
                   worst_index % c.N, got[worst_index], want[worst_index]));
  CHECK(worst <= 1.0);
}

TEST_CASE_FIXTURE(GpuFixture, "matmul matches the CPU reference for every layout, bias and accumulate") {
  const std::vector<MatmulCase> shapes = {
      {1, 1, 1, Layout::NN, false, false},    {37, 53, 29, Layout::NN, false, false},
      {65, 130, 17, Layout::NN, true, false}, {129, 67, 70, Layout::NN, false, true},
      {37, 53, 29, Layout::NT, false, false}, {70, 33, 131, Layout::NT, true, false},
      {3, 200, 9, Layout::NT, true, true},    {37, 53, 29, Layout::TN, false, false},
      {131, 45, 66, Layout::TN, true, false}, {64, 64, 64, Layout::TN, false, true},
      // multiples of 4 (but of no tile): matmul_cpu.comp's vec4 loads; the TN one has a K tail
      {36, 52, 28, Layout::NN, true, true},   {36, 52, 28, Layout::NT, false, true},
      {36, 52, 28, Layout::TN, true, false},  {44, 20, 30, Layout::TN, false, false},
      // a few rows (KV-cache decoding): the default picks the one-row tile on CPU devices
      {1, 70, 36, Layout::NT, true, true},    {2, 45, 29, Layout::NN, true, false},
      {4, 33, 40, Layout::TN, false, true},
  };
  // The device default, the table entries and odd tiles, so every tile shape is exercised on
  // lavapipe whatever the default is. Tiles with BN = TN run matmul_cpu.comp on CPU devices
  // (the portable kernel elsewhere); 24x6x4x3x6 takes its scalar-load path in NN and TN.
  const std::vector<std::optional<ops::MatmulTile>> tiles = {
      std::nullopt, ops::MatmulTile{64, 64, 16, 4, 4}, ops::MatmulTile{64, 64, 16, 8, 8},
      ops::MatmulTile{32, 16, 8, 4, 2}, ops::MatmulTile{128, 16, 4, 16, 16}, ops::MatmulTile{32, 8, 4, 4, 8},
      ops::MatmulTile{24, 6, 4, 3, 6}, ops::MatmulTile{1, 16, 4, 1, 16}};
  for (const auto& tile : tiles)
    for (const auto& shape : shapes) check_matmul(shape, tile);
}

// matmul_texel.comp (the default on CPU devices when the texels fit): shapes whose texel-direction
// sizes are multiples of 4 but whose M, N, K are no multiple of its tiles (32x32 for NN and NT,
// 32x48 for TN with 8-deep k steps), so every edge clamp runs; and shapes that must fall back.
TEST_CASE_FIXTURE(GpuFixture,
                  "the texel matmul matches the CPU reference and is taken where it fits") {
  auto& context = gpu();
  if (!context.texel_kernels()) {
    MESSAGE("this device has no texel kernels; skipped");
    return;
  }
  const std::vector<MatmulCase> texel_shapes = {
      {37, 52, 28, Layout::NN, false, false},
      {70, 132, 100, Layout::NN, true, true},
      {9, 4, 4, Layout::NN, true, false},
      {37, 53, 28, Layout::NT, false, false},
      {131, 70, 132, Layout::NT, true, false},
      {5, 3, 8, Layout::NT, false, true},
      {36, 52, 29, Layout::TN, false, false},
      {132, 44, 70, Layout::TN, true, true},
      {8, 4, 3, Layout::TN, true, false},
      {20, 100, 257, Layout::TN, false, false},
      {100, 152, 36, Layout::TN, true, false},
      // at most 4 rows, NT (decoding): matvec_texel.comp; K/4 = 9, 33, 2, 64 texels (32-k steps + a
      // tail)
      {1, 70, 36, Layout::NT, true, true},
      {3, 45, 132, Layout::NT, false, false},
      {4, 17, 8, Layout::NT, true, false},
      {2, 300, 256, Layout::NT, false, true},
  };
  vk::CommandStream probe(context);
  vk::Arena arena(context);
  auto view = [&](int64_t rows, int64_t cols) {
    return ops::MatrixView{arena.allocate(rows * cols * 4), rows, cols, cols};
  };
  auto taken = [&](const MatmulCase& c) {
    const bool ta = c.layout == Layout::TN, tb = c.layout == Layout::NT;
    auto a = ta ? view(c.K, c.M) : view(c.M, c.K);
    auto b = tb ? view(c.N, c.K) : view(c.K, c.N);
    return ops::uses_texel_matmul(probe, a, b, c.layout, c.M, c.N, c.K);
  };
  for (const auto& shape : texel_shapes) {
    CAPTURE(layout_name(shape.layout));
    CHECK(taken(shape));
    check_matmul(shape, std::nullopt);
  }
  // K (NN, NT) or M (TN) not a multiple of 4, N not one in NN, and few rows in NN or TN keep the
  // others
  for (const MatmulCase& shape :
       {MatmulCase{37, 52, 29, Layout::NN}, MatmulCase{37, 53, 29, Layout::NT},
        MatmulCase{37, 52, 28, Layout::TN}, MatmulCase{37, 53, 28, Layout::NN},
        MatmulCase{4, 52, 28, Layout::NN}, MatmulCase{2, 52, 28, Layout::TN}})
    CHECK_FALSE(taken(shape));
}

// Mixed precision: both operands f16 (a linear layer's forward) or a f32 times b f16 (its
// backward), on the texel kernel where the shapes fit it and the portable kernel elsewhere (and
// with a tile asked for, which on CPU devices would otherwise pick the f32-only matmul_cpu.comp).
TEST_CASE_FIXTURE(GpuFixture,
                  "matmul with f16 operands matches the CPU reference on the rounded values") {
  if (!gpu().fp16_enabled()) {
    MESSAGE("this device has no 16-bit storage; skipped");
    return;
  }
  const std::vector<MatmulCase> shapes = {
      {37, 52, 28, Layout::NN, false, false},
      {70, 132, 100, Layout::NN, true, true},
      {37, 53, 28, Layout::NT, true, false},
      {131, 70, 132, Layout::NT, false, true},
      {36, 52, 29, Layout::TN, false, true},
      {100, 152, 36, Layout::TN, true, false},
      // off the texel kernel: odd K or N, and a few rows
      {37, 53, 29, Layout::NN, true, false},
      {37, 53, 29, Layout::NT, false, true},
      {37, 45, 66, Layout::TN, true, false},
      {3, 70, 36, Layout::NT, true, true},
  };
  for (const auto& [a_dtype, b_dtype] :
       {std::pair{DType::f16, DType::f16}, {DType::f32, DType::f16}})
    for (const auto& shape : shapes) {
      check_matmul(shape, std::nullopt, a_dtype, b_dtype);
      check_matmul(shape, ops::MatmulTile{128, 16, 4, 16, 16}, a_dtype, b_dtype);
    }
  // an f16 a with an f32 b has no kernel, and c must be f32
  vk::Arena arena(gpu());
  Tensor h = Tensor::empty(arena, {8, 8}, DType::f16), f = Tensor::empty(arena, {8, 8});
  vk::CommandStream stream(gpu());
  CHECK_THROWS_WITH_AS(ops::matmul(stream, h, f, f, Layout::NN), doctest::Contains("no kernel"),
                       alpha::Error);
  CHECK_THROWS_WITH_AS(ops::matmul(stream, f, h, h, Layout::NN), doctest::Contains("c is f16"),
                       alpha::Error);
}

// The matrix-core kernel (64x64 workgroup tiles, 32-deep k steps, 16x16x16 fragments) with its
// fragment primitives emulated: sizes off every tile and beyond one workgroup, K shorter and longer
// than a k step, each layout with bias and accumulate, f16 and f32 a. On a device with cooperative
// matrices the same cases run on the matrix cores too.
TEST_CASE_FIXTURE(GpuFixture,
                  "the matrix-core matmul matches the CPU reference, emulated and on the device") {
  if (!gpu().fp16_enabled()) {
    MESSAGE("this device has no 16-bit storage; skipped");
    return;
  }
  const std::vector<MatmulCase> shapes = {
      {37, 53, 29, Layout::NN, false, false}, {70, 131, 100, Layout::NN, true, true},
      {37, 53, 29, Layout::NT, true, false},  {130, 67, 45, Layout::NT, false, true},
      {36, 52, 29, Layout::TN, false, true},  {65, 129, 70, Layout::TN, true, false},
      {1, 5, 3, Layout::NT, true, true},
  };
  std::vector<Coopmat> kinds = {Coopmat::emulated};
  if (gpu().coopmat_shape())
    kinds.push_back(Coopmat::device);
  else
    MESSAGE("this device has no cooperative matrices: the emulated kernel only");
  for (const Coopmat kind : kinds)
    for (const DType a_dtype : {DType::f16, DType::f32})
      for (const auto& shape : shapes) check_matmul(shape, std::nullopt, a_dtype, DType::f16, kind);
}

// alpha bench --tune may save any of its candidates, for a CPU device or a GPU: each must be right.
TEST_CASE_FIXTURE(GpuFixture, "every tile the tuner may choose matches the CPU reference") {
  const std::vector<MatmulCase> shapes = {{37, 53, 29, Layout::NN, false, false},
                                          {70, 33, 131, Layout::NT, true, true},
                                          {131, 45, 66, Layout::TN, true, false},
                                          {2, 45, 29, Layout::NN, true, true}};
  vk::DeviceInfo as_gpu = gpu().info(), as_cpu = gpu().info();
  as_gpu.type = VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU;
  as_cpu.type = VK_PHYSICAL_DEVICE_TYPE_CPU;
  for (const auto* info : {&as_cpu, &as_gpu}) {
    const auto candidates = ops::matmul_tile_candidates(*info);
    CHECK(candidates.size() >= 3);
    for (const auto& tile : candidates)
      for (const auto& shape : shapes) check_matmul(shape, tile);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "matmul_naive matches the CPU reference") {
  auto& context = gpu();
  vk::Arena arena(context);
  const int64_t M = 19, N = 33, K = 23;
  Tensor a = Tensor::empty(arena, {M, K}), b = Tensor::empty(arena, {K, N}), c = Tensor::empty(arena, {M, N});
  auto a_host = random_nonzero(M * K, 1), b_host = random_nonzero(K * N, 2);
  upload(arena, a, a_host);
  upload(arena, b, b_host);
  vk::CommandStream stream(context);
  ops::matmul_naive(stream, a, b, c);
  stream.submit();
  auto got = download(arena, c);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double want = 0, magnitude = 0;
      for (int64_t k = 0; k < K; ++k) {
        want += double(a_host[m * K + k]) * b_host[k * N + n];
        magnitude += std::abs(double(a_host[m * K + k]) * b_host[k * N + n]);
      }
      // same rounding bound as above
      CHECK(std::abs(got[m * N + n] - want) <= K * std::ldexp(1.0, -23) * magnitude);
    }
}

TEST_CASE_FIXTURE(GpuFixture, "matmul refuses shapes that do not fit") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor a = Tensor::empty(arena, {4, 5}), b = Tensor::empty(arena, {6, 7}), c = Tensor::empty(arena, {4, 7});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::matmul(stream, a, b, c, Layout::NN), doctest::Contains("do not fit layout NN"), alpha::Error);
  Tensor bias = Tensor::empty(arena, {3});
  Tensor b_ok = Tensor::empty(arena, {5, 7});
  CHECK_THROWS_WITH_AS(ops::matmul(stream, a, b_ok, c, Layout::NN, &bias), doctest::Contains("bias has 3"), alpha::Error);
  CHECK_THROWS_AS(ops::parse_matmul_tile("64x64x16x5x4"), alpha::Error);
  CHECK_THROWS_AS(ops::parse_matmul_tile("64x64"), alpha::Error);
  CHECK(ops::parse_matmul_tile("64x32x8x4x2").threads() == 256);  // (64/4)·(32/2)
}

}  // namespace alpha::test

namespace alpha::test {

// Views with row strides (blocks of wider matrices, as the split LM head uses): every layout, the
// texel (the default for multiples of 4 on CPU devices), CPU and portable kernels, odd strides; C's
// elements outside the block must stay untouched.
TEST_CASE_FIXTURE(GpuFixture, "matmul on strided views matches the reference and writes only its block") {
  auto& context = gpu();
  const int64_t skip = 64;  // the views start 64 floats into their buffers
  // odd sizes and stride (scalar loads); multiples of 4 (the CPU kernel's vec4 loads)
  for (auto [M, N, K, pad] : {std::array<int64_t, 4>{37, 29, 23, 67}, std::array<int64_t, 4>{36, 28, 24, 68}})
  for (Layout layout : {Layout::NN, Layout::NT, Layout::TN}) {
    for (std::optional<ops::MatmulTile> tile :
         {std::optional<ops::MatmulTile>{}, std::optional(ops::MatmulTile{64, 64, 16, 4, 4}),
          std::optional(ops::MatmulTile{128, 16, 4, 16, 16})}) {
      CAPTURE(layout_name(layout));
      CAPTURE(pad);
      CAPTURE(tile ? tile->to_string() : "default");
      vk::Arena arena(context);
      const int64_t a_rows = layout == Layout::TN ? K : M, a_cols = layout == Layout::TN ? M : K;
      const int64_t b_rows = layout == Layout::NT ? N : K, b_cols = layout == Layout::NT ? K : N;
      auto make = [&](int64_t rows, int64_t cols, uint32_t seed, std::vector<float>& host) {
        const int64_t ld = cols + pad;
        Tensor t = Tensor::empty(arena, {skip + rows * ld});
        host = random_nonzero(t.numel(), seed);
        upload(arena, t, host);
        return std::pair{t, ops::MatrixView{t.slice.sub(skip * 4, ((rows - 1) * ld + cols) * 4), rows, cols, ld}};
      };
      std::vector<float> a_host, b_host, c_host;
      auto [a, av] = make(a_rows, a_cols, 31, a_host);
      auto [b, bv] = make(b_rows, b_cols, 32, b_host);
      auto [c, cv] = make(M, N, 33, c_host);
      vk::CommandStream stream(context);
      ops::matmul(stream, av, bv, cv, layout, nullptr, true, tile);
      stream.submit();
      auto got = download(arena, c);
      auto at = [&](const std::vector<float>& h, const ops::MatrixView& v, int64_t r, int64_t col) {
        return double(h[skip + r * v.ld + col]);
      };
      int64_t bad = 0, touched = 0;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          double want = at(c_host, cv, m, n), magnitude = std::abs(want);
          for (int64_t k = 0; k < K; ++k) {
            double x = layout == Layout::TN ? at(a_host, av, k, m) : at(a_host, av, m, k);
            double y = layout == Layout::NT ? at(b_host, bv, n, k) : at(b_host, bv, k, n);
            want += x * y, magnitude += std::abs(x * y);
          }
          bad += std::abs(got[skip + m * cv.ld + n] - want) > (K + 2) * std::ldexp(1.0, -23) * magnitude;
        }
      for (int64_t i = 0; i < c.numel(); ++i) {
        const int64_t r = (i - skip) / cv.ld, col = (i - skip) % cv.ld;
        const bool inside = i >= skip && r < M && col < N;
        if (!inside) touched += got[i] != c_host[i];
      }
      CHECK(bad == 0);
      CHECK(touched == 0);
    }
  }
}

// layernorm_matmul_nt: LayerNorm (biased variance, eps 1e-5) then y = ln·Wᵀ + b, optionally GELU
// (tanh form), in double. At most 4 rows with texels that fit: one fused dispatch on CPU devices
// (matvec_texel.comp LAYERNORM/GELU); 5 rows or K % 4 != 0: layernorm_forward and matmul. K/4 = 25
// and 9 texels leave a tail after the 8-texel steps; N = 70 and 37 are no multiple of 16 columns.
TEST_CASE_FIXTURE(GpuFixture,
                  "layernorm_matmul_nt matches LayerNorm, then matmul (+ GELU) in double") {
  struct Case {
    int64_t M, N, K;
    bool gelu;
  };
  for (const Case c : {Case{1, 70, 100, false}, Case{3, 37, 36, true}, Case{4, 70, 100, true},
                       Case{2, 37, 256, false}, Case{5, 70, 100, true}, Case{1, 37, 38, false}}) {
    CAPTURE(c.M);
    CAPTURE(c.N);
    CAPTURE(c.K);
    CAPTURE(c.gelu);
    auto& context = gpu();
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {c.M, c.K}), lnw = Tensor::empty(arena, {c.K}),
           lnb = Tensor::empty(arena, {c.K});
    Tensor w = Tensor::empty(arena, {c.N, c.K}), bias = Tensor::empty(arena, {c.N});
    Tensor out = Tensor::empty(arena, {c.M, c.N}), act = Tensor::empty(arena, {c.M, c.N});
    Tensor ln = Tensor::empty(arena, {c.M, c.K}), mean = Tensor::empty(arena, {c.M}),
           rstd = Tensor::empty(arena, {c.M});
    const auto xh = random_nonzero(x.numel(), 31), lnwh = random_nonzero(c.K, 32),
               lnbh = random_nonzero(c.K, 33);
    const auto wh = random_nonzero(w.numel(), 34), bh = random_nonzero(c.N, 35);
    upload(arena, x, xh);
    upload(arena, lnw, lnwh);
    upload(arena, lnb, lnbh);
    upload(arena, w, wh);
    upload(arena, bias, bh);
    vk::CommandStream stream(context);
    ops::layernorm_matmul_nt(stream, x, lnw, lnb, w, bias, out, ln, mean, rstd,
                             c.gelu ? &act : nullptr);
    stream.submit();
    const auto got = download(arena, c.gelu ? act : out);
    double worst = 0;
    for (int64_t m = 0; m < c.M; ++m) {
      double mu = 0, var = 0;
      for (int64_t k = 0; k < c.K; ++k) mu += xh[m * c.K + k];
      mu /= double(c.K);
      for (int64_t k = 0; k < c.K; ++k) var += (xh[m * c.K + k] - mu) * (xh[m * c.K + k] - mu);
      const double r = 1.0 / std::sqrt(var / double(c.K) + 1e-5);
      for (int64_t n = 0; n < c.N; ++n) {
        double y = bh[n], magnitude = std::abs(bh[n]);
        for (int64_t k = 0; k < c.K; ++k) {
          const double term = ((xh[m * c.K + k] - mu) * r * lnwh[k] + lnbh[k]) * wh[n * c.K + k];
          y += term;
          magnitude += std::abs(term);
        }
        if (c.gelu)
          y = 0.5 * y * (1.0 + std::tanh(0.7978845608028654 * (y + 0.044715 * y * y * y)));
        // fp32 sums of K terms (and the normalisation's rounding) stay within 1e-5 of their
        // magnitude
        worst = std::max(worst, std::abs(got[m * c.N + n] - y) / (1e-6 + 1e-5 * magnitude));
      }
    }
    CHECK(worst <= 1.0);
  }
}

}  // namespace alpha::test
