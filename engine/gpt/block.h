// One transformer block's forward, and the final norm + LM head, written once for training
// (GptModel: B·T rows, every intermediate kept for the backward) and decoding (GptDecoder: a chunk
// of rows whose keys and values go to the KV cache, the residual stream updated in place). An
// architecture option is added here, once; the backward (training only) is in model.cpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "engine/gpt/config.h"
#include "engine/gpt/parameters.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/qk_transform.h"
#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::gpt {

// Parameter `index` of `layout` inside `buffer` (parameters or gradients); nullopt for kAbsent.
Tensor parameter_view(const ParameterLayout& layout, const vk::BufferSlice& buffer, int index);
std::optional<Tensor> optional_view(const ParameterLayout& layout, const vk::BufferSlice& buffer, int index);

// Rows [begin, begin + rows) of a (.., cols) f32 tensor as (1, rows, cols).
Tensor row_range(const Tensor& t, int64_t begin, int64_t rows, int64_t cols);

inline const Tensor* ptr(const std::optional<Tensor>& t) { return t ? &*t : nullptr; }

// One block's parameters (or their gradients) as tensors; the norms' may be absent.
struct BlockWeights {
  std::optional<Tensor> ln1_w, ln1_b, ln2_w, ln2_b;
  Tensor qkv_w, qkv_b, attn_proj_w, attn_proj_b, fc_w, fc_b, fc_proj_w, fc_proj_b;
};
BlockWeights block_weights(const ParameterLayout& layout, int layer, const vk::BufferSlice& buffer);

// The architecture's kernels' choices, from the config.
ops::NormKind norm_kind(const GptConfig& config);
ops::Activation mlp_activation(const GptConfig& config);  // the elementwise ones (not swiglu)
ops::QkTransform qk_transform(const GptConfig& config);
bool transforms_qk(const GptConfig& config);  // QK-norm or rotary: q/k pass through qk_transform

// The MLP's activation, fch_act (n, H) from fch (n, F), F = mlp_fc_width(): elementwise (gelu,
// relu2: F = H) or gated (swiglu: F = 2H, fch's rows [gate | up]).
void mlp_activation_forward(vk::CommandStream& stream, const GptConfig& config, const Tensor& fch,
                            const Tensor& fch_act);
// Its backward: dfch (n, F) from fch and dact = d(fch_act) (n, H). The elementwise ones may run in
// place (dfch the same tensor as dact); swiglu needs dfch apart from dact.
void mlp_activation_backward(vk::CommandStream& stream, const GptConfig& config, const Tensor& fch,
                             const Tensor& dact, const Tensor& dfch);

// Where one block's forward reads and writes, for n rows (B·T, or a decoding chunk). C is n_embd,
// Q = (n_head + 2·n_kv_head)·head_size the q/k/v width, H the MLP's hidden width and F c_fc's
// output width (GptConfig::mlp_hidden, mlp_fc_width).
struct BlockTensors {
  Tensor ln1, ln1_mean, ln1_rstd;  // (n, C), (n), (n)
  Tensor qkv_raw;                  // (n, Q) the projection, when transforms_qk (else unused)
  Tensor qk_rstd;                  // (n, n_head + n_kv_head) QK-norm statistics (qk_norm only)
  Tensor qkv;                      // (n, Q) the attention's q/k/v of these rows (decoding: KV-cache rows)
  Tensor attention_qkv;            // what attention reads: qkv (training) or the cache's first pos0 + n rows
  Tensor atty, lse;                // (n, C), (n_head, n)
  Tensor attproj, residual2;       // training only: residual2 = residual + attproj
  Tensor ln2, ln2_mean, ln2_rstd;  // (n, C), (n), (n)
  Tensor fch, fch_act;             // (n, F), (n, H): the MLP's units before and after activation
  Tensor fcproj, residual3;        // training only: residual3 = residual2 + fcproj
  // Mixed precision only (training, BlockPass::half_weights): the linear layers' inputs rounded to
  // f16, what their matmuls read and the backward's weight gradients read again.
  Tensor ln1_h, atty_h, ln2_h, fch_act_h;  // (n, C), (n, C), (n, C), (n, H) f16
  // Decoding several sequences at once (GptDecoder::step): row r is the next token of the sequence
  // whose cache in this layer is row_caches[r] (1, seq_len, Q), at position row_positions[r];
  // layer_cache (slots, seq_len, Q) is the layer's whole cache and step_rows (n, 4) i32 the rows'
  // (token, position, slot, 0). The projection goes to qkv_raw (n, Q); one dispatch writes every
  // row into its cache row (QK-norm/rotary: one transform per row) and one runs every row's
  // attention over its own cache (per row where the decode kernel does not apply); qkv and
  // attention_qkv are unused. Each row gets the bits of a one-token chunk's kernels, so each
  // sequence's numbers do not depend on the batch.
  std::span<const Tensor> row_caches;
  std::span<const int> row_positions;
  Tensor layer_cache, step_rows;
};

// How the block runs: training keeps every intermediate and writes new residual tensors; decoding
// runs the fused norm + projection kernels and adds into `residual` in place (residual2/residual3
// unused). Rows are at positions pos0 + (row % T); attention's first query is at pos0.
struct BlockPass {
  bool decoding = false;
  int T = 0;
  int pos0 = 0;
  const Tensor* rope_table = nullptr;  // (seq_len, head_size/2, 2) when pos = rope
  // Mixed precision (training): the weights' f16 copies; each linear layer rounds its input to f16
  // (BlockTensors' *_h) and multiplies f16 by f16 into f32. Biases and norms stay f32; attention too, but
  // for its forward on devices with matrix cores (ops::attention_forward_coopmat).
  const BlockWeights* half_weights = nullptr;
};

void block_forward(vk::CommandStream& stream, const GptConfig& config, const BlockWeights& w,
                   const Tensor& residual, BlockTensors& t, const BlockPass& pass);

// The final norm and the LM head: lnf = norm(x) (rows of C), logits = lnf · headᵀ, soft-capped
// when the config says so. head is wte (tied) or lm_head. Mixed precision: `half` holds the head's
// f16 copy and lnf_h (rows of C, f16) receives lnf rounded, which the head's matmul reads.
struct HeadHalf {
  Tensor head, lnf_h;
};
void head_forward(vk::CommandStream& stream, const GptConfig& config, const ParameterLayout& layout,
                  const vk::BufferSlice& params, const Tensor& x, const Tensor& lnf,
                  const Tensor& lnf_mean, const Tensor& lnf_rstd, const Tensor& logits,
                  uint64_t max_binding_bytes, const HeadHalf* half = nullptr);

// A parameter of the decayed range (embeddings and matrices) in the weights' f16 copy, which holds
// that range at the same element offsets.
Tensor half_parameter_view(const ParameterLayout& layout, const vk::BufferSlice& params_f16,
                           int index);
// One block's matrices from the f16 copy (norms and biases stay the f32 ones of `params`).
BlockWeights half_block_weights(const ParameterLayout& layout, int layer,
                                const vk::BufferSlice& params, const vk::BufferSlice& params_f16);

}  // namespace alpha::gpt
