// Matmul launchers and the tile table (see matmul.h).
#include "engine/ops/matmul.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct MatmulPush {  // twin of matmul.comp's Push
  uint32_t M, N, K, accumulate;
};
static_assert(sizeof(MatmulPush) == 16);

struct NaivePush {  // twin of matmul_naive.comp's Push
  uint32_t M, N, K;
};
static_assert(sizeof(NaivePush) == 12);

// Tiles per device class, BM x BN x BK x TM x TN:
// - GPUs: 64x64 tiles, 16-deep K steps, 4x4 per invocation = 256 invocations, 8 KiB shared memory;
//   the classic register-blocked SGEMM shape, a safe start before per-vendor tuning.
// - CPU devices (lavapipe): one workgroup runs on one CPU thread with 8-wide SIMD lanes, so few
//   invocations (= few barrier switches) with large per-invocation register tiles win.
static const MatmulTile kGpuTile{64, 64, 16, 4, 4};
static const MatmulTile kCpuTile{64, 64, 16, 8, 8};

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
  return stream.context().info().type == VK_PHYSICAL_DEVICE_TYPE_CPU ? kCpuTile : kGpuTile;
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

void matmul(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& c, Layout layout,
            const Tensor* bias, bool accumulate, std::optional<MatmulTile> tile) {
  require_f32(a, "matmul", "a");
  require_f32(b, "matmul", "b");
  require_f32(c, "matmul", "c");
  const int64_t M = layout == Layout::TN ? a.cols() : a.rows();
  const int64_t K = layout == Layout::TN ? a.rows() : a.cols();
  const int64_t N = layout == Layout::NT ? b.rows() : b.cols();
  const int64_t b_k = layout == Layout::NT ? b.cols() : b.rows();
  if (b_k != K || c.rows() != M || c.cols() != N)
    fail("matmul: shapes a {} b {} c {} do not fit layout {}", a.shape_string(), b.shape_string(),
         c.shape_string(), layout == Layout::NN ? "NN" : layout == Layout::NT ? "NT" : "TN");
  if (bias) {
    require_f32(*bias, "matmul", "bias");
    if (bias->numel() != N) fail("matmul: bias has {} elements, expected N = {}", bias->numel(), N);
  }
  const MatmulTile t = tile ? *tile : default_matmul_tile(stream);
  check_tile(stream, t);

  const char* names[3][2] = {{"matmul_nn_f32", "matmul_nn_bias_f32"},
                             {"matmul_nt_f32", "matmul_nt_bias_f32"},
                             {"matmul_tn_f32", "matmul_tn_bias_f32"}};
  const char* shader = names[static_cast<int>(layout)][bias ? 1 : 0];
  const uint32_t bindings = bias ? 4 : 3;
  const auto& pipeline = stream.context().pipelines().get(
      {shader, bindings, sizeof(MatmulPush), {t.threads(), t.bm, t.bn, t.bk, t.tm, t.tn}});
  MatmulPush push{static_cast<uint32_t>(M), static_cast<uint32_t>(N), static_cast<uint32_t>(K), accumulate ? 1u : 0u};
  vk::Groups groups{static_cast<uint32_t>((N + t.bn - 1) / t.bn), static_cast<uint32_t>((M + t.bm - 1) / t.bm)};
  // accumulate reads c; a write binding already orders c against earlier readers and writers.
  auto out = vk::writes(c.slice);
  if (bias)
    stream.dispatch(pipeline, {vk::reads(a.slice), vk::reads(b.slice), vk::reads(bias->slice), out}, push, groups);
  else
    stream.dispatch(pipeline, {vk::reads(a.slice), vk::reads(b.slice), out}, push, groups);
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
