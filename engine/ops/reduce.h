// Sum of all elements of an f32 tensor, in two deterministic passes (shaders/reduce_sum.comp):
// n values -> up to kReduceGroups partial sums -> 1. The caller provides the partials buffer.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

constexpr int64_t kReduceGroups = 256;

// out[0] = sum(x); partials holds at least kReduceGroups floats of scratch.
void reduce_sum(vk::CommandStream& stream, const Tensor& x, const Tensor& partials, const Tensor& out);

}  // namespace alpha::ops
