// Inference with a KV cache: one sequence on the device, its keys and values kept per layer so each
// new token costs one row of work per layer instead of a pass over the whole context. Prefill runs a
// prompt in chunks of rows; decode is the same call with one token. `alpha sample` and the bench's
// inference rows use it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/gpt/parameters.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "engine/vk/context.h"

namespace alpha::gpt {

class GptDecoder {
 public:
  // max_chunk: rows run per pass during prefill (activation memory scales with it).
  // max_binding_bytes as for GptModel: the LM head's token embedding is bound in blocks of at most this.
  // shared_parameters: read the weights from this buffer (e.g. a training GptModel's, to sample while
  // training without a copy) instead of owning them; it must outlive the decoder.
  GptDecoder(vk::Context& context, const GptConfig& config, int max_chunk = 64, uint64_t max_binding_bytes = 0,
             const vk::BufferSlice* shared_parameters = nullptr);

  const GptConfig& config() const { return config_; }
  // Tokens in the cache and the most it holds (the model's seq_len: its position table's rows).
  int position() const { return position_; }
  int capacity() const { return config_.seq_len; }
  uint64_t memory_bytes() const;  // what it allocated: parameters (unless shared) + cache + activations
  // The per-layer cache: seq_len rows of (n_head + 2·n_kv_head)·head_size floats ([q | k | v]), so
  // grouped-query attention shrinks it.
  uint64_t cache_bytes() const;

  void set_parameters(std::span<const float> values);  // the parameter layout's floats; not with shared ones
  void reset() { position_ = 0; }                       // forget the cached context

  // Runs `tokens` at positions position().. through the model, caching their keys and values, and
  // returns the logits (V floats) that predict the token after the last one. Fails when the tokens
  // do not fit the remaining capacity or are outside the vocabulary.
  std::vector<float> append(std::span<const int32_t> tokens);

 private:
  struct Buffers;
  // Records one chunk of n <= max_chunk tokens (already uploaded) at position p.
  void record_chunk(vk::CommandStream& stream, int p, int n);
  Tensor param(int index) const;

  vk::Context& context_;
  GptConfig config_;
  ParameterLayout layout_;
  int max_chunk_;
  uint64_t max_binding_bytes_;
  int position_ = 0;
  vk::Arena arena_;
  vk::BufferSlice params_;
  bool shared_parameters_ = false;
  std::vector<Tensor> cache_;  // per layer (1, seq_len, Q): rows of [q | k | v]; k and v are the KV cache
  struct Chunk {
    Tensor tokens;                 // (1, max_chunk) i32
    Tensor x;                      // (max_chunk, C): the residual stream
    Tensor ln, mean, rstd;         // (max_chunk, C), (max_chunk), (max_chunk)
    Tensor qkv_raw, qk_rstd;       // (max_chunk, Q), (max_chunk, NH + NKV): before QK-norm/rotary
    Tensor att, lse;               // (max_chunk, C), (NH, max_chunk)
    Tensor fch, fch_act;           // (max_chunk, F), (max_chunk, H): see block.h's BlockTensors
    Tensor lnf, lnf_mean, lnf_rstd;  // (1, C), (1), (1): only the last row reaches the head
    Tensor logits;                 // (1, V)
    Tensor rope_table;             // (seq_len, HS/2, 2) when pos = rope
  } chunk_;
};

}  // namespace alpha::gpt
