// The LM head, tied to the token embedding: logits (N, V) = x (N, C) · wteᵀ. GPT-2's wte (154 MB)
// and its logits exceed what some devices bind at once (lavapipe: 128 MiB), so both are bound in
// blocks: logits rows [n0, n0+nr) × vocabulary [v0, v0+vc) is a strided view (row stride V).
#pragma once

#include <cstdint>

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::gpt {

// x (.., C) read as (N, C); wte (V, C); logits (.., V) read as (N, V). max_binding_bytes 0: the
// device's storage-buffer range. Mixed precision: x and wte may both be f16 (ops::matmul's rule);
// logits, dlogits, dx and dwte are f32.
void lm_head_forward(vk::CommandStream& stream, const Tensor& x, const Tensor& wte, const Tensor& logits,
                     uint64_t max_binding_bytes = 0);

// dlogits (N, V) given: dx (N, C) = dlogits · wte (overwritten), dwte (V, C) += dlogitsᵀ · x.
void lm_head_backward(vk::CommandStream& stream, const Tensor& x, const Tensor& dx, const Tensor& wte,
                      const Tensor& dwte, const Tensor& dlogits, uint64_t max_binding_bytes = 0);

}  // namespace alpha::gpt
