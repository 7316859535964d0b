// Inference with a KV cache: sequences on the device, their keys and values kept per layer so each
// new token costs one row of work per layer instead of a pass over the whole context. Prefill runs
// a prompt in chunks of rows; decode is the same call with one token. `alpha sample` and the
// bench's inference rows use one sequence (slot 0); the server keeps several slots, each with its
// own cache, and step() decodes the next token of many of them in one submission (continuous
// batching).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/gpt/block.h"
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
  // max_binding_bytes as for GptModel: the LM head's token embedding is bound in blocks of at most
  // this. shared_parameters: read the weights from this buffer (e.g. a training GptModel's, to
  // sample while training without a copy) instead of owning them; it must outlive the decoder.
  // slots: sequences cached at once (each seq_len rows per layer); at most max_chunk.
  GptDecoder(vk::Context& context, const GptConfig& config, int max_chunk = 64,
             uint64_t max_binding_bytes = 0, const vk::BufferSlice* shared_parameters = nullptr,
             int slots = 1);

  const GptConfig& config() const { return config_; }
  // Tokens in the cache and the most it holds (the model's seq_len: its position table's rows).
  int position(int slot = 0) const { return positions_.at(slot); }
  int capacity() const { return config_.seq_len; }
  int slots() const { return static_cast<int>(positions_.size()); }
  uint64_t memory_bytes() const;  // what it allocated: parameters (unless shared) + cache + activations
  // The per-layer cache: slots × seq_len rows of (n_head + 2·n_kv_head)·head_size floats ([q | k |
  // v]), so grouped-query attention shrinks it.
  uint64_t cache_bytes() const;

  void set_parameters(std::span<const float> values);  // the parameter layout's floats; not with shared ones
  void reset(int slot = 0) { positions_.at(slot) = 0; }  // forget the slot's cached context

  // Runs `tokens` at positions position(slot).. through the model, caching their keys and values,
  // and returns the logits (V floats) that predict the token after the last one. Fails when the
  // tokens do not fit the remaining capacity or are outside the vocabulary.
  std::vector<float> append(std::span<const int32_t> tokens) { return append(0, tokens); }
  std::vector<float> append(int slot, std::span<const int32_t> tokens);

  // One token for each of several distinct slots, all run in one submission; returns rows.size()
  // rows of V logits in the order of `rows`. Each row's logits are bit for bit what append(slot,
  // {token}) gives: rows go through the matmuls in groups of at most ops::kSkinnyRows, whose
  // kernels compute every row alike; the embedding, the cache writes and the attention run once for
  // all rows, each row reading its own slot and position (the same per-row arithmetic).
  struct Row {
    int slot;
    int32_t token;
  };
  std::vector<float> step(std::span<const Row> rows);

 private:
  struct Buffers;
  // Records one chunk of n <= max_chunk tokens (already uploaded) at position p of `slot`.
  void record_chunk(vk::CommandStream& stream, int slot, int p, int n);
  // Records a step's rows (their (token, position, slot, 0) uploaded).
  void record_step(vk::CommandStream& stream, std::span<const Row> rows);
  // The scratch tensors of a pass over n rows.
  BlockTensors chunk_tensors(int n) const;
  Tensor slot_cache(int layer, int slot) const;  // (1, seq_len, Q)
  int64_t group_logits_floats() const;           // a step group's logits rows, padded
  void check_tokens(std::span<const int32_t> tokens) const;
  Tensor param(int index) const;

  vk::Context& context_;
  GptConfig config_;
  ParameterLayout layout_;
  int max_chunk_;
  uint64_t max_binding_bytes_;
  std::vector<int> positions_;  // tokens cached per slot
  vk::Arena arena_;
  vk::BufferSlice params_;
  bool shared_parameters_ = false;
  std::vector<Tensor>
      cache_;  // per layer (slots, seq_len, Q): rows of [q | k | v]; k and v are the KV cache
  struct Chunk {
    Tensor tokens;                 // (1, max_chunk) i32
    Tensor x;                      // (max_chunk, C): the residual stream
    Tensor ln, mean, rstd;         // (max_chunk, C), (max_chunk), (max_chunk)
    Tensor qkv_raw,
        qk_rstd;  // (max_chunk, Q), (max_chunk, NH + NKV): before QK-norm/rotary or the cache
    Tensor att, lse;               // (max_chunk, C), (NH, max_chunk)
    Tensor fch, fch_act;           // (max_chunk, F), (max_chunk, H): see block.h's BlockTensors
    Tensor lnf, lnf_mean,
        lnf_rstd;   // (slots, C), (slots), (slots): only rows that predict reach the head
    Tensor logits;  // (1, V), or step()'s groups of kSkinnyRows rows at padded offsets
    Tensor rope_table;             // (seq_len, HS/2, 2) when pos = rope
  } chunk_;
};

}  // namespace alpha::gpt
