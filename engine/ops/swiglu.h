// The SwiGLU MLP activation, forward and backward (shaders/swiglu.comp): a gated activation over
// rows of x = [gate | up], each half H wide. f32 only.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

// out = silu(g) * u per row, g = x[:, :H] (the gate), u = x[:, H:] (up); silu(g) = g·sigmoid(g).
void swiglu_forward(vk::CommandStream& stream,
                    const Tensor& x,     // (N, 2H), or (B, T, 2H)
                    const Tensor& out);  // (N, H): the same rows, half the columns

// dx = d(out)/dx applied to dout (OVERWRITES both halves of dx): d gate = dout·u·silu'(g) with
// silu'(g) = s(1 + g(1 - s)), s = sigmoid(g); d up = dout·silu(g). dx must not overlap x or dout.
void swiglu_backward(vk::CommandStream& stream,
                     const Tensor& x,     // (N, 2H) the forward input
                     const Tensor& dout,  // (N, H)
                     const Tensor& dx);   // (N, 2H)

}  // namespace alpha::ops
