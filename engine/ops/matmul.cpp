// Matmul launchers and the tile table (see matmul.h). On CPU devices (lavapipe) matmul() runs
// shaders/matmul_texel.comp (operands through rgba32f texel buffers) when the shapes allow it and
// no tile is asked for, else shaders/matmul_cpu.comp (storage buffers, shaped for lavapipe's
// SIMD-lanes execution) whenever the tile is a CPU-kernel tile (BM = TM, one row block shared by
// all lanes). ALPHA_DISABLE_TEXEL=1 turns the first off, ALPHA_DISABLE_CPU_MATMUL=1 the second;
// with both, every device runs the portable shaders/matmul.comp.
#include "engine/ops/matmul.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/error.h"
#include "engine/ops/gelu.h"
#include "engine/ops/launch.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/matmul_tuning.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct MatmulPush {  // twin of matmul.comp's and matmul_cpu.comp's Push
  uint32_t M, N, K, accumulate;
  uint32_t lda, ldb, ldc;
};
static_assert(sizeof(MatmulPush) == 28);

struct NaivePush {  // twin of matmul_naive.comp's Push
  uint32_t M, N, K;
};
static_assert(sizeof(NaivePush) == 12);

// Tiles per device class, BM x BN x BK x TM x TN:
// - GPUs: 64x64 tiles, 16-deep K steps, 4x4 per invocation = 256 invocations, 8 KiB shared memory;
//   the classic register-blocked SGEMM shape, a safe start before per-vendor tuning.
// - CPU devices (lavapipe), matmul_cpu.comp: 8 invocations (one 8-lane SIMD group) of 16x16
//   outputs each, sharing 16 columns: 128x16x4x16x16. Every buffer load costs a loop over the
//   lanes there, so the tile maximises FMAs per load (TM·TN/(TM+TN) = 8); 8x16 and 16x8 were ~20%
//   slower, 16x32 and 32x32 no faster and 15-60x slower to compile (see perf/matmul.md).
// - CPU devices with ALPHA_DISABLE_CPU_MATMUL=1, portable kernel: few invocations (= few barrier
//   switches) with large per-invocation register tiles: 64x64x16x8x8 = 64 invocations.
static const MatmulTile kGpuTile{64, 64, 16, 4, 4};
static const MatmulTile kCpuTile{128, 16, 4, 16, 16};
static const MatmulTile kCpuPortableTile{64, 64, 16, 8, 8};
// - CPU devices, at most kSkinnyRows rows of C (decoding with a KV cache: one token's row): one
//   invocation per workgroup, one row of 16 columns. The 128-row tile would load its shared row 128
//   times over; this measured 7x faster for d6 decode steps (perf/kernels.md).
static const MatmulTile kCpuSkinnyTile{1, 16, 4, 1, 16};

// matmul_texel.comp's tiles, by scheme (see the shader). Bigger register tiles win although their
// accumulators live on the stack (32 ymm registers hold 32 floats per lane): a spilled accumulator
// costs a folded load and a store, cheaper than the shuffles and texel transposes a smaller tile
// repeats. ops::matmul at d6/d12 shapes on lavapipe 22.3 (dev/kernel_lab engine, quiet machine,
// GFLOP/s, 2026-12-03 session 2):
//   NN/NT R x CB (NT 2048x1152x384 / NN 2048x384x1536 / NT 2048x3072x768): 2x2 54.5/61.8/56.2,
//     3x3 64.2/72.1/61.6, 4x4 68.2/75.2/67.5, 6x3 66.3/74.2/68.5, 8x4 65.7/69.0/69.8, 4x6 63/75,
//     5x5 65.5/70.2.
//   TN CB (1536x384x2048 / 3072x768x2048): 4 48.0/47.1, 6 61.9/58.8, 8 65.0/61.9, 12 72.9/70.4, 16
//     73.6/69.7; the earlier scheme (lanes owning columns, A broadcast) was slower than CB 4.
struct TexelTile {
  uint32_t r, cb;
  uint32_t bm(Layout layout) const { return layout == Layout::TN ? 32 : 8 * r; }
  uint32_t bn(Layout layout) const { return layout == Layout::TN ? 4 * cb : 8 * cb; }
};
static const TexelTile kTexelRowsTile{4, 4};
static const TexelTile kTexelColsTile{1, 12};

// ALPHA_DISABLE_CPU_MATMUL=1: CPU devices use the portable kernel too. Read once.
static bool cpu_matmul_disabled() {
  static const bool disabled = [] {
    const char* env = std::getenv("ALPHA_DISABLE_CPU_MATMUL");
    return env && *env && std::string(env) != "0";
  }();
  return disabled;
}

bool MatmulTile::is_cpu_tile() const { return bn == tn; }

std::string MatmulTile::to_string() const { return fmt::format("{}x{}x{}x{}x{}", bm, bn, bk, tm, tn); }

MatmulTile parse_matmul_tile(const std::string& text) {
  MatmulTile t{};
  char end = 0;
  if (std::sscanf(text.c_str(), "%ux%ux%ux%ux%u%c", &t.bm, &t.bn, &t.bk, &t.tm, &t.tn, &end) != 5)
    fail("matmul tile '{}' is not BMxBNxBKxTMxTN (e.g. 64x64x16x4x4)", text);
  if (!t.bm || !t.bn || !t.bk || !t.tm || !t.tn || t.bm % t.tm || t.bn % t.tn)
    fail("matmul tile '{}': BM must be a multiple of TM and BN of TN, all positive", text);
  return t;
}

MatmulTile default_matmul_tile(const vk::CommandStream& stream) {
  if (const char* env = std::getenv("ALPHA_MATMUL_TILE"); env && *env) return parse_matmul_tile(env);
  if (const auto tuned = tuned_matmul_tile(stream.context().info())) return *tuned;
  const bool cpu = stream.context().info().type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  return !cpu ? kGpuTile : cpu_matmul_disabled() ? kCpuPortableTile : kCpuTile;
}

bool uses_cpu_matmul(const vk::CommandStream& stream, const MatmulTile& t) {
  return stream.context().info().type == VK_PHYSICAL_DEVICE_TYPE_CPU && !cpu_matmul_disabled() && t.is_cpu_tile();
}

static void check_tile(const vk::CommandStream& stream, const MatmulTile& t) {
  const auto& info = stream.context().info();
  if (t.threads() > info.max_workgroup_invocations)
    fail("matmul tile {} needs {} invocations per workgroup, the device allows {}", t.to_string(), t.threads(),
         info.max_workgroup_invocations);
  if ((t.bm + t.bn) * t.bk * 4 > info.max_shared_memory)
    fail("matmul tile {} needs {} bytes of shared memory, the device has {}", t.to_string(),
         (t.bm + t.bn) * t.bk * 4, info.max_shared_memory);
}

MatrixView MatrixView::of(const Tensor& t) {
  return {t.slice, t.rows(), t.cols(), t.cols(), t.dtype};
}

static void check_view(const MatrixView& v, const char* role) {
  if (v.rows <= 0 || v.cols <= 0 || v.ld < v.cols)
    fail("matmul: {} is a {}x{} view with row stride {}; the stride must be at least the row length", role, v.rows,
         v.cols, v.ld);
  if (v.dtype != DType::f32 && v.dtype != DType::f16)
    fail("matmul: {} is {}; matmul takes f32 or f16 operands", role, dtype_name(v.dtype));
  if (uint64_t((v.rows - 1) * v.ld + v.cols) * dtype_bytes(v.dtype) > v.slice.size)
    fail("matmul: the {}x{} view of {} (row stride {}) is larger than its {} byte slice", v.rows, v.cols, role, v.ld,
         v.slice.size);
  if (v.ld >= (int64_t(1) << 32) || v.rows * v.ld >= (int64_t(1) << 32))
    fail("matmul: {} has 2^32 or more elements; the kernels index with 32 bits", role);
}

// The texel kernel reads A and B as whole rgba32f texels that never straddle a row: every stride
// and the size along each texel's direction must be a multiple of 4, the views aligned for a texel
// buffer and within its size, and the k-loop under lavapipe's 65535-iteration loop limit.
// The elements a view spans, (rows-1)·ld + cols of them from its first element.
static vk::BufferSlice view_elements(const MatrixView& v) {
  return v.slice.sub(0, uint64_t((v.rows - 1) * v.ld + v.cols) * dtype_bytes(v.dtype));
}

// The texel format an operand is read through: 4 elements of its dtype.
static VkFormat texel_format(const MatrixView& v) {
  return v.dtype == DType::f16 ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
}

// The shader variants' dtype suffix (shaders/meson.build): f32 operands, both f16, or f32 times
// f16.
static const char* operand_suffix(const MatrixView& a, const MatrixView& b) {
  if (a.dtype == DType::f32 && b.dtype == DType::f32) return "_f32";
  if (a.dtype == DType::f16 && b.dtype == DType::f16) return "_f16f16";
  if (a.dtype == DType::f32 && b.dtype == DType::f16) return "_f32f16";
  fail("matmul: an f16 a times an f32 b has no kernel; make b f16 or a f32");
}

static bool texel_shapes_fit(const vk::CommandStream& stream, const MatrixView& a,
                             const MatrixView& b, Layout layout, int64_t M, int64_t N, int64_t K) {
  auto view_fits = [&](const MatrixView& v) {
    const bool format = v.dtype == DType::f32 || stream.context().info().texel_rgba16f;
    return format && v.ld % 4 == 0 && v.cols % 4 == 0 &&
           texel_view_fits(stream, view_elements(v), texel_format(v));
  };
  const int64_t k_steps = layout == Layout::TN ? (K + 7) / 8 : K / 4;
  const bool sizes = layout == Layout::NN   ? K % 4 == 0 && N % 4 == 0
                     : layout == Layout::NT ? K % 4 == 0
                                            : M % 4 == 0 && N % 4 == 0;
  return sizes && k_steps < 65535 && view_fits(a) && view_fits(b);
}

bool uses_texel_matmul(const vk::CommandStream& stream, const MatrixView& a, const MatrixView& b,
                       Layout layout, int64_t M, int64_t N, int64_t K) {
  const bool tile_from_env = std::getenv("ALPHA_MATMUL_TILE") && *std::getenv("ALPHA_MATMUL_TILE");
  // At most kSkinnyRows rows: only NT (decoding) has a texel kernel, matvec_texel.comp (f32).
  const bool f32 = a.dtype == DType::f32 && b.dtype == DType::f32;
  return stream.context().texel_kernels() && !tile_from_env &&
         (M > kSkinnyRows || (layout == Layout::NT && f32)) &&
         texel_shapes_fit(stream, a, b, layout, M, N, K);
}

// matvec_texel.comp: 16 columns per workgroup (not tuned). A scheme with the lanes splitting k (128
// contiguous bytes of a B row per load, an xor-shuffle reduction per column at the end) decoded d6
// at 7.0-7.6 ms a token with 2-32 columns per workgroup against this one's 5.6 (2026-12-03).
constexpr uint32_t kMatvecChunks = 2;

static void matmul_texel(vk::CommandStream& stream, const MatrixView& a, const MatrixView& b,
                         const MatrixView& c, Layout layout, const Tensor* bias, bool accumulate,
                         int64_t M, int64_t N, int64_t K) {
  const char* names[3][2] = {{"matmul_texel_nn", "matmul_texel_nn_bias"},
                             {"matmul_texel_nt", "matmul_texel_nt_bias"},
                             {"matmul_texel_tn", "matmul_texel_tn_bias"}};
  const TexelTile t = layout == Layout::TN ? kTexelColsTile : kTexelRowsTile;
  vk::PipelineDesc desc{
      std::string(names[static_cast<int>(layout)][bias ? 1 : 0]) + operand_suffix(a, b),
      bias ? 4u : 3u,
      sizeof(MatmulPush),
      {t.r, t.cb},
      0b11};
  vk::Groups groups{static_cast<uint32_t>((N + t.bn(layout) - 1) / t.bn(layout)),
                    static_cast<uint32_t>((M + t.bm(layout) - 1) / t.bm(layout))};
  if (M <= kSkinnyRows) {  // decoding: layout is NT (uses_texel_matmul)
    desc.shader = bias ? "matvec_texel_nt_bias_f32" : "matvec_texel_nt_f32";
    desc.constants = {static_cast<uint32_t>(M), kMatvecChunks};
    groups = {static_cast<uint32_t>((N + 8 * kMatvecChunks - 1) / (8 * kMatvecChunks))};
  }
  const auto& pipeline = stream.context().pipelines().get(desc);
  MatmulPush push{static_cast<uint32_t>(M),    static_cast<uint32_t>(N),
                  static_cast<uint32_t>(K),    accumulate ? 1u : 0u,
                  static_cast<uint32_t>(a.ld), static_cast<uint32_t>(b.ld),
                  static_cast<uint32_t>(c.ld)};
  auto texels = [](const MatrixView& v) {
    return vk::reads_texels(view_elements(v), texel_format(v));
  };
  auto out = vk::writes(c.slice);
  if (bias)
    stream.dispatch(pipeline, {texels(a), texels(b), vk::reads(bias->slice), out}, push, groups);
  else
    stream.dispatch(pipeline, {texels(a), texels(b), out}, push, groups);
}

// matmul_coopmat.comp's workgroup tile (its subgroups take 32x32 quarters).
constexpr uint32_t kCoopmatTile = 64;

// The shapes op(A) (M,K), op(B) (K,N), C (M,N) of a layout, checked against each other, with the
// views, an f32 C and the bias (f32, N elements) checked too.
struct MatmulShape {
  int64_t M, N, K;
};
static MatmulShape check_operands(const MatrixView& a, const MatrixView& b, const MatrixView& c,
                                  Layout layout, const Tensor* bias) {
  check_view(a, "a");
  check_view(b, "b");
  check_view(c, "c");
  if (c.dtype != DType::f32) fail("matmul: c is {}, it must be f32", dtype_name(c.dtype));
  const int64_t M = layout == Layout::TN ? a.cols : a.rows;
  const int64_t K = layout == Layout::TN ? a.rows : a.cols;
  const int64_t N = layout == Layout::NT ? b.rows : b.cols;
  const int64_t b_k = layout == Layout::NT ? b.cols : b.rows;
  if (b_k != K || c.rows != M || c.cols != N)
    fail("matmul: shapes a ({}, {}) b ({}, {}) c ({}, {}) do not fit layout {}", a.rows, a.cols,
         b.rows, b.cols, c.rows, c.cols,
         layout == Layout::NN   ? "NN"
         : layout == Layout::NT ? "NT"
                                : "TN");
  if (bias) {
    require_f32(*bias, "matmul", "bias");
    if (bias->numel() != N) fail("matmul: bias has {} elements, expected N = {}", bias->numel(), N);
  }
  return {M, N, K};
}

void matmul_coopmat(vk::CommandStream& stream, const MatrixView& a, const MatrixView& b,
                    const MatrixView& c, Layout layout, const Tensor* bias, bool accumulate,
                    bool emulated) {
  const auto [M, N, K] = check_operands(a, b, c, layout, bias);
  if (b.dtype != DType::f16)
    fail("matmul_coopmat: b is {}; the matrix-core kernels take an f16 b", dtype_name(b.dtype));
  const auto& context = stream.context();
  if (!context.fp16_enabled())
    fail("matmul_coopmat: {} has no 16-bit storage (or ALPHA_DISABLE_FP16 is set)",
         context.info().name);
  const auto& shape = context.coopmat_shape();
  if (!emulated && !shape)
    fail("matmul_coopmat: {} has no usable cooperative matrices (or ALPHA_DISABLE_COOPMAT is set)",
         context.info().name);
  const char* names[3][2] = {{"nn", "nn_bias"}, {"nt", "nt_bias"}, {"tn", "tn_bias"}};
  const std::string shader = std::string(emulated ? "matmul_coopmat_emu_" : "matmul_coopmat_") +
                             names[static_cast<int>(layout)][bias ? 1 : 0] +
                             (a.dtype == DType::f16 ? "_f16f16" : "_f32f16");
  // the emulated kernel's fragments are 16x16x16 over 8 invocations (fixed in the shader)
  const uint32_t lanes = emulated ? 8 : context.info().subgroup_size;
  std::vector<uint32_t> constants{4 * lanes};
  if (!emulated) constants.insert(constants.end(), {shape->m, shape->n, shape->k});
  const auto& pipeline = stream.context().pipelines().get(
      {shader, bias ? 4u : 3u, static_cast<uint32_t>(sizeof(MatmulPush)), constants});
  MatmulPush push{static_cast<uint32_t>(M),    static_cast<uint32_t>(N),
                  static_cast<uint32_t>(K),    accumulate ? 1u : 0u,
                  static_cast<uint32_t>(a.ld), static_cast<uint32_t>(b.ld),
                  static_cast<uint32_t>(c.ld)};
  vk::Groups groups{static_cast<uint32_t>((N + kCoopmatTile - 1) / kCoopmatTile),
                    static_cast<uint32_t>((M + kCoopmatTile - 1) / kCoopmatTile)};
  auto out = vk::writes(c.slice);
  if (bias)
    stream.dispatch(
        pipeline,
        {vk::reads(view_elements(a)), vk::reads(view_elements(b)), vk::reads(bias->slice), out},
        push, groups, "matmul_coopmat");
  else
    stream.dispatch(pipeline, {vk::reads(view_elements(a)), vk::reads(view_elements(b)), out}, push,
                    groups, "matmul_coopmat");
}

void matmul(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& c,
            Layout layout, const Tensor* bias, bool accumulate, std::optional<MatmulTile> tile) {
  require_f32(c, "matmul", "c");
  matmul(stream, MatrixView::of(a), MatrixView::of(b), MatrixView::of(c), layout, bias, accumulate, tile);
}

void matmul(vk::CommandStream& stream, const MatrixView& a, const MatrixView& b, const MatrixView& c,
            Layout layout, const Tensor* bias, bool accumulate, std::optional<MatmulTile> tile) {
  const auto [M, N, K] = check_operands(a, b, c, layout, bias);
  const char* suffix = operand_suffix(a, b);
  const bool f32 = a.dtype == DType::f32 && b.dtype == DType::f32;
  if (!f32 && !stream.context().fp16_enabled())
    fail("matmul: f16 operands need 16-bit storage, which {} lacks (or ALPHA_DISABLE_FP16 is set)",
         stream.context().info().name);
  if (!f32 && !tile && stream.context().coopmat_shape())  // mixed precision on matrix cores
    return matmul_coopmat(stream, a, b, c, layout, bias, accumulate);
  if (!tile && uses_texel_matmul(stream, a, b, layout, M, N, K))
    return matmul_texel(stream, a, b, c, layout, bias, accumulate, M, N, K);
  MatmulTile t = tile ? *tile : default_matmul_tile(stream);
  const bool tile_from_env = std::getenv("ALPHA_MATMUL_TILE") && *std::getenv("ALPHA_MATMUL_TILE");
  if (!tile && !tile_from_env && M <= kSkinnyRows && uses_cpu_matmul(stream, t)) t = kCpuSkinnyTile;
  // matmul_cpu.comp is f32 only: f16 operands take the portable kernel with its own tile.
  if (!f32 && uses_cpu_matmul(stream, t)) t = kCpuPortableTile;
  check_tile(stream, t);

  const bool cpu_kernel = uses_cpu_matmul(stream, t);
  const char* names[2][3][2] = {{{"matmul_nn", "matmul_nn_bias"},
                                 {"matmul_nt", "matmul_nt_bias"},
                                 {"matmul_tn", "matmul_tn_bias"}},
                                {{"matmul_cpu_nn", "matmul_cpu_nn_bias"},
                                 {"matmul_cpu_nt", "matmul_cpu_nt_bias"},
                                 {"matmul_cpu_tn", "matmul_cpu_tn_bias"}}};
  const std::string shader =
      std::string(names[cpu_kernel ? 1 : 0][static_cast<int>(layout)][bias ? 1 : 0]) + suffix;
  const uint32_t bindings = bias ? 4 : 3;
  std::vector<uint32_t> constants{t.threads(), t.bm, t.bn, t.bk, t.tm, t.tn};
  if (cpu_kernel) {  // VEC4: every vec4 load in matmul_cpu.comp is aligned and inside its line
    const bool strides = a.ld % 4 == 0 && b.ld % 4 == 0;
    const bool vec4 = strides && (layout == Layout::NN   ? K % 4 == 0 && N % 4 == 0 && t.tn % 4 == 0
                                  : layout == Layout::NT ? K % 4 == 0
                                                         : M % 4 == 0 && N % 4 == 0 && t.tm % 4 == 0 && t.tn % 4 == 0);
    constants.push_back(vec4 ? 1 : 0);
  }
  const auto& pipeline = stream.context().pipelines().get({shader, bindings, sizeof(MatmulPush), constants});
  MatmulPush push{static_cast<uint32_t>(M),    static_cast<uint32_t>(N),    static_cast<uint32_t>(K),
                  accumulate ? 1u : 0u,        static_cast<uint32_t>(a.ld), static_cast<uint32_t>(b.ld),
                  static_cast<uint32_t>(c.ld)};
  vk::Groups groups{static_cast<uint32_t>((N + t.bn - 1) / t.bn), static_cast<uint32_t>((M + t.bm - 1) / t.bm)};
  // accumulate reads c; a write binding already orders c against earlier readers and writers.
  auto out = vk::writes(c.slice);
  if (bias)
    stream.dispatch(pipeline, {vk::reads(a.slice), vk::reads(b.slice), vk::reads(bias->slice), out}, push, groups);
  else
    stream.dispatch(pipeline, {vk::reads(a.slice), vk::reads(b.slice), out}, push, groups);
}

void norm_matmul_nt(vk::CommandStream& stream, NormKind kind, const Tensor& x,
                    const Tensor* norm_weight, const Tensor* norm_bias, const Tensor& w,
                    const Tensor& bias, const Tensor& out, const Tensor& ln, const Tensor& mean,
                    const Tensor& rstd, const Tensor* act_out, Activation act) {
  const char* op = "norm_matmul_nt";
  for (auto [t, role] : {std::pair{&x, "x"}, {&w, "w"}, {&bias, "bias"}, {&out, "out"}})
    require_f32(*t, op, role);
  const int64_t M = x.rows(), K = x.cols(), N = w.rows();
  for (auto [t, role] : {std::pair{norm_weight, "norm weight"}, {norm_bias, "norm bias"}})
    if (t) {
      require_f32(*t, op, role);
      if (t->numel() != K)
        fail("{}: the {} is {}, expected (K) with K = {}", op, role, t->shape_string(), K);
    }
  if (norm_bias && (!norm_weight || kind == NormKind::rmsnorm))
    fail("{}: a norm bias needs a norm weight, and rmsnorm takes none", op);
  if (w.cols() != K || out.rows() != M || out.cols() != N || bias.numel() != N)
    fail(
        "{}: x {}, w {}, bias {}, out {} do not make "
        "out (M,N) = norm(x) (M,K) · wᵀ (N,K) + bias (N)",
        op, x.shape_string(), w.shape_string(), bias.shape_string(), out.shape_string());
  if (act_out) {
    require_f32(*act_out, op, "act_out");
    require_same_numel(out, *act_out, op);
  }
  // Absent norm parameters are bound to x: the kernel's flags never read those bindings.
  const Tensor& nw = norm_weight ? *norm_weight : x;
  const Tensor& nb = norm_bias ? *norm_bias : x;
  const MatrixView xa = MatrixView::of(x), wb = MatrixView::of(w);
  if (M <= kSkinnyRows && uses_texel_matmul(stream, xa, wb, Layout::NT, M, N, K) &&
      texel_views_fit(stream, {&nw, &nb})) {
    float eps = kLayernormEps;
    uint32_t eps_bits;
    std::memcpy(&eps_bits, &eps, 4);
    const char* shader = !act_out                  ? "matvec_texel_nt_bias_norm_f32"
                         : act == Activation::gelu ? "matvec_texel_nt_bias_norm_gelu_f32"
                                                   : "matvec_texel_nt_bias_norm_relu2_f32";
    const auto& pipeline = stream.context().pipelines().get(
        {shader,
         6,
         sizeof(MatmulPush),
         {static_cast<uint32_t>(M), kMatvecChunks, eps_bits, kind == NormKind::rmsnorm ? 1u : 0u,
          norm_weight ? 1u : 0u, norm_bias ? 1u : 0u},
         0b110011});
    const MatmulPush push{
        static_cast<uint32_t>(M), static_cast<uint32_t>(N), static_cast<uint32_t>(K), 0u,
        static_cast<uint32_t>(K), static_cast<uint32_t>(K), static_cast<uint32_t>(N)};
    stream.dispatch(
        pipeline,
        {reads_rgba(x), reads_rgba(w), vk::reads(bias.slice),
         vk::writes(act_out ? act_out->slice : out.slice), reads_rgba(nw), reads_rgba(nb)},
        push, {static_cast<uint32_t>((N + 8 * kMatvecChunks - 1) / (8 * kMatvecChunks))}, op);
    return;
  }
  norm_forward(stream, kind, x, norm_weight, norm_bias, ln, mean, rstd);
  matmul(stream, ln, w, out, Layout::NT, &bias);
  if (act_out) activation_forward(stream, act, out, *act_out);
}

void layernorm_matmul_nt(vk::CommandStream& stream, const Tensor& x, const Tensor& ln_weight,
                         const Tensor& ln_bias, const Tensor& w, const Tensor& bias,
                         const Tensor& out, const Tensor& ln, const Tensor& mean,
                         const Tensor& rstd, const Tensor* gelu_out) {
  norm_matmul_nt(stream, NormKind::layernorm, x, &ln_weight, &ln_bias, w, bias, out, ln, mean, rstd,
                 gelu_out, Activation::gelu);
}

void matmul_naive(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& c) {
  require_f32(a, "matmul_naive", "a");
  require_f32(b, "matmul_naive", "b");
  require_f32(c, "matmul_naive", "c");
  const int64_t M = a.rows(), K = a.cols(), N = b.cols();
  if (b.rows() != K || c.rows() != M || c.cols() != N)
    fail("matmul_naive: shapes a {} b {} c {} do not fit c = a·b", a.shape_string(), b.shape_string(),
         c.shape_string());
  const auto& pipeline = stream.context().pipelines().get({"matmul_naive_f32", 3, sizeof(NaivePush), {}});
  NaivePush push{static_cast<uint32_t>(M), static_cast<uint32_t>(N), static_cast<uint32_t>(K)};
  stream.dispatch(pipeline, {vk::reads(a.slice), vk::reads(b.slice), vk::writes(c.slice)}, push,
                  {static_cast<uint32_t>((N + 15) / 16), static_cast<uint32_t>((M + 15) / 16)});
}

}  // namespace alpha::ops
