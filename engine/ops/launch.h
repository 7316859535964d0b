// Small helpers every op launcher shares: dtype/size preconditions and group counts for the
// grid-stride elementwise kernels.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

constexpr uint32_t kElementwiseGroupSize = 256;

// Throws unless t is f32 and holds fewer than 2^32 elements (the kernels index with uint).
void require_f32(const Tensor& t, const char* op, const char* role);
void require_same_numel(const Tensor& a, const Tensor& b, const char* op);

// How many rows of row_bytes fit one binding of at most max_bytes (0: the device's storage-buffer range)
// when each block must start at an offset aligned for binding (a multiple of the alignment's row
// granularity). For splitting tensors larger than one binding into row blocks.
int64_t rows_per_binding(const vk::CommandStream& stream, int64_t row_bytes, uint64_t max_bytes = 0);

// True when `slice` can be bound as a texel buffer of `format` on this device: it starts at the
// texel offset alignment, holds whole texels, and no more than the device's texel-buffer limit.
bool texel_view_fits(const vk::CommandStream& stream, const vk::BufferSlice& slice,
                     VkFormat format);
// The same for each of a kernel's operands, and the device runs texel kernels at all.
bool texel_views_fit(const vk::CommandStream& stream, std::initializer_list<const Tensor*> tensors,
                     VkFormat format = VK_FORMAT_R32G32B32A32_SFLOAT);
// True when each tensor can be bound whole as a storage buffer of vec4s: no larger than the
// device's storage-buffer range, starting at its offset alignment and on a 16-byte boundary. The
// texel kernels write through such bindings (lavapipe's imageStore is far slower than a vec4
// store).
bool vec4_stores_fit(const vk::CommandStream& stream, std::initializer_list<const Tensor*> tensors);
// The CPU-device elementwise shape: `out` a whole number of vec4s that fits vec4_stores_fit, and
// every input fits a texel view (texel_views_fit; with no inputs, the device runs texel kernels).
bool texel_reads_vec4_store_fit(const vk::CommandStream& stream,
                                std::initializer_list<const Tensor*> inputs, const Tensor& out);
inline vk::Binding reads_rgba(const Tensor& t) {
  return vk::reads_texels(t.slice.sub(0, t.bytes()), VK_FORMAT_R32G32B32A32_SFLOAT);
}
inline vk::Binding writes_rgba(const Tensor& t) {
  return vk::writes_texels(t.slice.sub(0, t.bytes()), VK_FORMAT_R32G32B32A32_SFLOAT);
}

// Enough groups of kElementwiseGroupSize to cover n, capped at the device's group limit (the
// kernels loop over the rest).
vk::Groups elementwise_groups(const vk::CommandStream& stream, int64_t n);

// The SPANS variants (shaders/element_loop.glsl, CPU devices): 8-invocation workgroups (one
// lavapipe subgroup), each owning a contiguous span of at least kSpanElements elements.
constexpr uint32_t kSpanGroupSize = 8;
constexpr int64_t kSpanElements = 512;
vk::Groups span_groups(const vk::CommandStream& stream, int64_t n);

}  // namespace alpha::ops
