// GELU with the tanh approximation (PyTorch approximate='tanh'), forward and backward
// (shaders/gelu.comp). Elementwise over any shape; f32 only.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

// out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). out may be x.
void gelu_forward(vk::CommandStream& stream,
                  const Tensor& x,     // (N, C) or any shape
                  const Tensor& out);  // same element count as x

// dx = gelu'(x) * dout (OVERWRITES dx; dx may be the same tensor as dout).
void gelu_backward(vk::CommandStream& stream,
                   const Tensor& x,     // (N, C) the forward input
                   const Tensor& dout,  // (N, C)
                   const Tensor& dx);   // (N, C)

}  // namespace alpha::ops
