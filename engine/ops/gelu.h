// The MLP activations, forward and backward (shaders/gelu.comp): GELU with the tanh approximation
// (PyTorch approximate='tanh') and ReLU² (relu2). Elementwise over any shape; f32 only.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

// gelu:  out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// relu2: out = max(x, 0)^2;  d/dx = 2 max(x, 0)
enum class Activation { gelu, relu2 };

// out = act(x). out may be x.
void activation_forward(vk::CommandStream& stream, Activation act,
                        const Tensor& x,     // (N, C) or any shape
                        const Tensor& out);  // same element count as x

// dx = act'(x) * dout (OVERWRITES dx; dx may be the same tensor as dout).
void activation_backward(vk::CommandStream& stream, Activation act,
                         const Tensor& x,     // (N, C) the forward input
                         const Tensor& dout,  // (N, C)
                         const Tensor& dx);   // (N, C)

// activation_forward/backward with Activation::gelu.
void gelu_forward(vk::CommandStream& stream, const Tensor& x, const Tensor& out);
void gelu_backward(vk::CommandStream& stream, const Tensor& x, const Tensor& dout,
                   const Tensor& dx);

}  // namespace alpha::ops
