// Bias gradient of a linear layer (shaders/bias_grad.comp): dbias += the column sums of dY.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

// dbias (C) += sum over rows of dy (N, C); deterministic (fixed row order, no atomics).
void bias_grad(vk::CommandStream& stream, const Tensor& dy, const Tensor& dbias);

}  // namespace alpha::ops
