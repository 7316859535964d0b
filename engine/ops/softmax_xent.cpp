// softmax_cross_entropy launcher (see softmax_xent.h): checks, row chunks that fit one binding,
// dispatch.
#include "engine/ops/softmax_xent.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct SoftmaxXentPush {  // twin of softmax_xent.comp's Push
  uint32_t rows;
  uint32_t vocab;
  float softcap;  // 0: plain logits
};
static_assert(sizeof(SoftmaxXentPush) == 12);

constexpr uint32_t kSoftmaxXentGroupSize = 256;  // a power of two: the tree reduction halves it
static_assert((kSoftmaxXentGroupSize & (kSoftmaxXentGroupSize - 1)) == 0);

void softmax_cross_entropy(vk::CommandStream& stream, const Tensor& logits, const Tensor& targets,
                           const Tensor& losses, const Tensor& dlogits, const Tensor& dloss_scale,
                           VkDeviceSize max_chunk_bytes, float softcap) {
  require_f32(logits, "softmax_cross_entropy", "logits");
  require_f32(losses, "softmax_cross_entropy", "losses");
  require_f32(dlogits, "softmax_cross_entropy", "dlogits");
  require_f32(dloss_scale, "softmax_cross_entropy", "dloss_scale");
  const auto scale = vk::reads(dloss_scale.slice.sub(0, 4));
  if (targets.dtype != DType::i32)
    fail("softmax_cross_entropy: targets are {}, they must be i32 token ids",
         dtype_name(targets.dtype));
  const int64_t N = logits.rows(), V = logits.cols();
  if (targets.numel() != N || losses.numel() != N)
    fail(
        "softmax_cross_entropy: logits {} have {} rows but targets are {} and losses {}; both need "
        "{} elements",
        logits.shape_string(), N, targets.shape_string(), losses.shape_string(), N);
  if (dlogits.rows() != N || dlogits.cols() != V)
    fail("softmax_cross_entropy: dlogits {} must have the shape of logits {}",
         dlogits.shape_string(), logits.shape_string());
  if (!(softcap >= 0.0f) || std::isinf(softcap))
    fail("softmax_cross_entropy: softcap is {}; it must be a finite cap > 0, or 0 for none",
         softcap);

  // CPU devices: one dispatch of the texel kernel when the rows are whole texels and fit one view.
  const SoftmaxXentPush whole{static_cast<uint32_t>(N), static_cast<uint32_t>(V), softcap};
  if (V % 4 == 0 && max_chunk_bytes == 0 && (N + 7) / 8 <= 65535 && V / 4 < 65535 &&
      texel_reads_vec4_store_fit(stream, {&logits}, dlogits)) {
    const auto& pipeline = stream.context().pipelines().get(
        {"softmax_xent_texel_f32", 5, sizeof(SoftmaxXentPush), {}, 0b0001});
    stream.dispatch(pipeline,
                    {reads_rgba(logits), vk::reads(targets.slice), vk::writes(losses.slice),
                     vk::writes(dlogits.slice), scale},
                    whole, {static_cast<uint32_t>((N + 7) / 8)}, "softmax_xent");
    return;
  }

  // Chunks of rows: the logits binding fits the storage-buffer range, and every chunk starts at a
  // byte offset aligned for logits (row * V * 4) and for targets/losses (row * 4).
  const auto& info = stream.context().info();
  const VkDeviceSize align = std::max<VkDeviceSize>(info.min_storage_buffer_offset_alignment, 1);
  const VkDeviceSize row_bytes = static_cast<VkDeviceSize>(V) * 4;
  const VkDeviceSize row_step =
      std::lcm(align / std::gcd(row_bytes, align), align / std::gcd(VkDeviceSize(4), align));
  VkDeviceSize limit = info.max_storage_buffer_range;
  if (max_chunk_bytes > 0) limit = std::min(limit, max_chunk_bytes);
  if (row_step * row_bytes > info.max_storage_buffer_range)
    fail(
        "softmax_cross_entropy: V = {} is too wide: {} rows of it (the alignment step) exceed the "
        "device's {} MiB "
        "storage-buffer range",
        V, row_step, info.max_storage_buffer_range >> 20);
  const int64_t chunk_rows =
      static_cast<int64_t>(std::max<VkDeviceSize>(limit / row_bytes / row_step, 1) * row_step);

  const auto& pipeline = stream.context().pipelines().get(
      {"softmax_xent_f32", 5, sizeof(SoftmaxXentPush), {kSoftmaxXentGroupSize}});
  const int64_t max_groups = std::min<int64_t>(info.max_group_count_x, 65535);
  for (int64_t row0 = 0; row0 < N; row0 += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, N - row0);
    const VkDeviceSize x_offset = row0 * row_bytes, x_bytes = rows * row_bytes;
    const SoftmaxXentPush push{static_cast<uint32_t>(rows), static_cast<uint32_t>(V), softcap};
    stream.dispatch(pipeline,
                    {vk::reads(logits.slice.sub(x_offset, x_bytes)),
                     vk::reads(targets.slice.sub(row0 * 4, rows * 4)),
                     vk::writes(losses.slice.sub(row0 * 4, rows * 4)),
                     vk::writes(dlogits.slice.sub(x_offset, x_bytes)), scale},
                    push, {static_cast<uint32_t>(std::min(rows, max_groups))}, "softmax_xent");
  }
}

}  // namespace alpha::ops
