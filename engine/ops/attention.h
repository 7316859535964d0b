// Causal multi-head attention, flash-attention style (shaders/attention_forward.comp,
// attention_backward.comp): fused kernels with an online softmax that never store the T×T scores.
// The q/k/v projection and the output projection are matmuls left to the caller.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

// qkv (B,T,3C): per token [q (C) | k (C) | v (C)]; head h uses columns h*HS .. h*HS+HS-1 inside
// each of q, k, v (HS = C/NH, a multiple of 8, at most 128). With NKV key/value heads (grouped-query
// attention; 0 means NKV = NH), qkv is (B,T,(NH + 2·NKV)·HS): [q (NH heads) | k (NKV) | v (NKV)], and
// query head h reads key/value head h / (NH/NKV); the backward's dk, dv sum over the group. out (B,T,C): out[b,t,h] = sum_{s<=t}
// softmax_s(q[b,t,h]·k[b,s,h] / sqrt(HS)) v[b,s,h] at columns h*HS.. lse (B,NH,T): log-sum-exp of
// the scaled scores of each query row (saved for backward).
// first_query > 0 computes only query rows first_query..T-1 (against all their keys 0..t): out is
// then (B, T-first_query, C) and lse (B, NH, T-first_query). Decoding with a KV cache uses this:
// qkv holds the cached rows and the new ones, and only the new rows are queries. On CPU devices
// (the texel kernels), at most kDecodeQueryRows query rows take attention_decode_texel.comp, whose
// lanes split the keys; its sums run in another order than the full pass's, so its bits differ from
// those rows of a full pass (within rounding).
constexpr int64_t kDecodeQueryRows = 4;
void attention_forward(vk::CommandStream& stream, const Tensor& qkv, const Tensor& out,
                       const Tensor& lse, int NH, int64_t first_query = 0, int NKV = 0);

// attention_forward on matrix cores (attention_coopmat.comp): the same outputs, with q, k, v and the
// softmax probabilities rounded to f16 and their products accumulated in f32 (mixed precision, as
// autocast does), so the bits differ from attention_forward's. attention_coopmat_fits says whether
// the device runs it: cooperative matrices whose fragment sides divide 16, 16-bit storage, HS a
// multiple of 16. emulated: the same kernel with its fragment primitives as ordinary code, which any
// device with 16-bit storage runs (the tests).
bool attention_coopmat_fits(const vk::Context& context, int64_t head_size);
void attention_forward_coopmat(vk::CommandStream& stream, const Tensor& qkv, const Tensor& out,
                               const Tensor& lse, int NH, int64_t first_query = 0, int NKV = 0,
                               bool emulated = false);

// Decoding several sequences at once (GptDecoder::step), one dispatch each for all rows. rows (R,
// 4) i32: row r is (token, position, slot, 0), distinct slots. cache (S, T, W) is a layer's KV
// cache, S sequences of T rows of W = (NH + 2·NKV)·HS floats ([q | k | v]). kv_cache_write: row r
// of qkv (R, W) to cache row `position` of sequence `slot`.
void kv_cache_write(vk::CommandStream& stream, const Tensor& rows, const Tensor& qkv,
                    const Tensor& cache);
// attention_decode_rows: for each row r, the attention of the query at cache row `position` of
// sequence `slot` over that sequence's rows 0..position, into out (R, C) and lse (R, NH); each
// row's bits are those of attention_forward on the sequence's first position + 1 rows with
// first_query = position (the decode kernel). False, writing nothing, where that kernel does not
// apply (a GPU, a head size off 32, a cache too large for a texel view): run attention_forward per
// row then.
bool attention_decode_rows(vk::CommandStream& stream, const Tensor& cache, const Tensor& rows,
                           const Tensor& out, const Tensor& lse, int NH, int NKV = 0);

// dout (B,T,C), qkv (B,T,3C), out (B,T,C) and lse (B,NH,T) as in and from attention_forward.
// dqkv (same shape as qkv): OVERWRITTEN with the gradients of q, k, v (same layout as qkv). Three dispatches,
// no atomics: the same inputs give the same bits every run.
void attention_backward(vk::CommandStream& stream, const Tensor& dout, const Tensor& qkv,
                        const Tensor& out, const Tensor& lse, const Tensor& dqkv, int NH, int NKV = 0);

}  // namespace alpha::ops
