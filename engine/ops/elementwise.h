// Launchers for the simple kernels: fill, copy, add, mul, scale, softcap, cast (shaders/fill.comp,
// copy.comp, elementwise.comp, cast.comp). All f32 but cast's output; outputs may alias inputs of
// the same op.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

void fill(vk::CommandStream& stream, const Tensor& out, float value);
void copy(vk::CommandStream& stream, const Tensor& src, const Tensor& dst);
void add(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& out);  // out = a + b
void mul(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& out);  // out = a * b
void scale(vk::CommandStream& stream, const Tensor& a, float s, const Tensor& out);        // out = a * s
// dst = src rounded to f16 (to nearest even; beyond f16's range: +-inf). src f32, dst f16, the same
// element count. Needs the device's 16-bit storage (vk::Context::fp16_enabled).
void cast_to_f16(vk::CommandStream& stream, const Tensor& src, const Tensor& dst);

// Tanh logit softcapping: out = cap·tanh(x/cap) (|out| <= cap, ~x for |x| << cap), cap > 0. out
// may be x. Dispatched in chunks that each fit one storage-buffer (and, on CPU devices, texel)
// binding, so tensors larger than a binding (a big model's logits) work; max_chunk_bytes > 0 lowers
// the chunk size (tests). Within ~1e-6 relative of the exact value (not the builtin tanh: see
// shaders/elementwise.comp).
void softcap(vk::CommandStream& stream, const Tensor& x, const Tensor& out, float cap,
             VkDeviceSize max_chunk_bytes = 0);

}  // namespace alpha::ops
