// Small helpers every op launcher shares: dtype/size preconditions and group counts for the
// grid-stride elementwise kernels.
#pragma once

#include <cstdint>

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

// Enough groups of kElementwiseGroupSize to cover n, capped at the device's group limit (the
// kernels loop over the rest).
vk::Groups elementwise_groups(const vk::CommandStream& stream, int64_t n);

}  // namespace alpha::ops
