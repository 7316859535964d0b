// Launchers for the simple kernels: fill, copy, add, mul, scale (shaders/fill.comp, copy.comp,
// elementwise.comp). All f32; outputs may alias inputs of the same op.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

void fill(vk::CommandStream& stream, const Tensor& out, float value);
void copy(vk::CommandStream& stream, const Tensor& src, const Tensor& dst);
void add(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& out);  // out = a + b
void mul(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& out);  // out = a * b
void scale(vk::CommandStream& stream, const Tensor& a, float s, const Tensor& out);        // out = a * s

}  // namespace alpha::ops
