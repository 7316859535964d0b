// Shared launcher preconditions (see launch.h).
#include "engine/ops/launch.h"

#include <algorithm>
#include <numeric>

#include "common/error.h"
#include "engine/vk/context.h"

namespace alpha::ops {

void require_f32(const Tensor& t, const char* op, const char* role) {
  if (t.dtype != DType::f32) fail("{}: {} is {}, this kernel takes f32", op, role, dtype_name(t.dtype));
  if (t.numel() >= (int64_t(1) << 32)) fail("{}: {} has {} elements, more than 2^32", op, role, t.numel());
}

void require_same_numel(const Tensor& a, const Tensor& b, const char* op) {
  if (a.numel() != b.numel())
    fail("{}: shapes {} and {} have different element counts", op, a.shape_string(), b.shape_string());
}

int64_t rows_per_binding(const vk::CommandStream& stream, int64_t row_bytes, uint64_t max_bytes) {
  const auto& info = stream.context().info();
  const uint64_t limit = max_bytes ? std::min<uint64_t>(max_bytes, info.max_storage_buffer_range)
                                   : info.max_storage_buffer_range;
  const int64_t alignment = std::max<int64_t>(1, info.min_storage_buffer_offset_alignment);
  const int64_t granule = alignment / std::gcd(alignment, row_bytes);  // rows whose bytes are aligned
  const int64_t rows = static_cast<int64_t>(limit) / row_bytes / granule * granule;
  if (rows < 1)
    fail("{} rows of {} bytes (the smallest aligned block) do not fit a storage-buffer binding of {} bytes", granule,
         row_bytes, limit);
  return rows;
}

bool texel_view_fits(const vk::CommandStream& stream, const vk::BufferSlice& slice,
                     VkFormat format) {
  return vk::texel_binding_problem(stream.context().info(), slice, format).empty();
}

bool texel_views_fit(const vk::CommandStream& stream, std::initializer_list<const Tensor*> tensors,
                     VkFormat format) {
  if (!stream.context().texel_kernels()) return false;
  for (const Tensor* t : tensors)
    if (!texel_view_fits(stream, t->slice.sub(0, t->bytes()), format)) return false;
  return true;
}

bool vec4_stores_fit(const vk::CommandStream& stream,
                     std::initializer_list<const Tensor*> tensors) {
  const auto& info = stream.context().info();
  const uint64_t alignment = std::max<uint64_t>(16, info.min_storage_buffer_offset_alignment);
  for (const Tensor* t : tensors)
    if (t->bytes() > info.max_storage_buffer_range || t->slice.offset % alignment != 0)
      return false;
  return true;
}

bool texel_reads_vec4_store_fit(const vk::CommandStream& stream,
                                std::initializer_list<const Tensor*> inputs, const Tensor& out) {
  return stream.context().texel_kernels() && out.numel() % 4 == 0 &&
         (inputs.size() == 0 || texel_views_fit(stream, inputs)) && vec4_stores_fit(stream, {&out});
}

vk::Groups elementwise_groups(const vk::CommandStream& stream, int64_t n) {
  int64_t groups = (n + kElementwiseGroupSize - 1) / kElementwiseGroupSize;
  int64_t limit = stream.context().info().max_group_count_x;
  return {static_cast<uint32_t>(std::clamp<int64_t>(groups, 1, std::min<int64_t>(limit, 65535)))};
}

vk::Groups span_groups(const vk::CommandStream& stream, int64_t n) {
  const int64_t limit = std::min<int64_t>(stream.context().info().max_group_count_x, 65535);
  return {static_cast<uint32_t>(
      std::clamp<int64_t>((n + kSpanElements - 1) / kSpanElements, 1, limit))};
}

}  // namespace alpha::ops
