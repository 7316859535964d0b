// Token + position embedding forward and backward (shaders/embedding.comp). The backward
// accumulates into the weight gradients in a fixed order (no atomics), so it is bit-reproducible.
#pragma once

#include <cstdint>

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

// out[b,t] = wte[tokens[b,t]] + wpe[t] (wpe nullptr: no position table, out = wte[tokens]). A token outside [0, V) gives a row of NaN (the kernel
// cannot throw; the loss shows it).
void embedding_forward(vk::CommandStream& stream,
                       const Tensor& tokens,  // (B, T) i32 in [0, V)
                       const Tensor& wte,     // (V, C)
                       const Tensor* wpe,     // (maxT, C), maxT >= T; or nullptr
                       const Tensor& out,     // (B, T, C)
                       uint64_t max_binding_bytes = 0);  // wte is bound in row blocks of at most this
                                                         // (0: the device's storage-buffer range)

// Decoding several sequences at once (GptDecoder::step): rows (R, 4) i32 of (token, position,
// slot, 0); out[r] = wte[token] + wpe[position] (wpe: the whole table, or nullptr), each row the
// bits of embedding_forward on that one token with wpe from row `position` on.
void embedding_rows_forward(vk::CommandStream& stream, const Tensor& rows, const Tensor& wte,
                            const Tensor* wpe, const Tensor& out, uint64_t max_binding_bytes = 0);

// dwte[v] += sum of dout[b,t] over the positions with tokens[b,t] == v (in ascending position
// order); dwpe[t] += sum_b dout[b,t] for t < T (rows T..maxT-1 are untouched). Tokens outside [0,
// V) are skipped. dwpe nullptr: no position table.
void embedding_backward(vk::CommandStream& stream,
                        const Tensor& tokens,  // (B, T) i32
                        const Tensor& dout,    // (B, T, C)
                        const Tensor& dwte,    // (V, C) accumulated
                        const Tensor* dwpe,    // (maxT, C) accumulated, or nullptr
                        uint64_t max_binding_bytes = 0);  // as for embedding_forward

// The same with an explicit number of vocabulary parts (the dwte dispatch's y groups, 1..V; the
// launcher above picks one per device). Results are bit-identical for every choice: for tests and
// tuning.
void embedding_backward_in_parts(vk::CommandStream& stream, const Tensor& tokens, const Tensor& dout,
                        const Tensor& dwte, const Tensor* dwpe, uint32_t vocab_parts,
                        uint64_t max_binding_bytes = 0);

}  // namespace alpha::ops
