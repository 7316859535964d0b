// GPT model configuration: GPT-2's architecture sized by a few numbers, with presets d1..d12
// (depth d -> n_layer = d, n_embd = 64·d, n_head = d; d12 is GPT-2 124M's shape).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace alpha::gpt {

struct GptConfig {
  int n_layer = 6;         // transformer blocks (L)
  int n_head = 6;          // attention heads per block (NH)
  int n_embd = 384;        // channels (C); head size HS = C / NH
  int seq_len = 256;       // maximum context (T); the position table has this many rows
  int vocab_size = 8192;   // tokens (V)

  int head_size() const { return n_embd / n_head; }
  // Throws alpha::Error naming the bad field and the rule it breaks.
  void validate() const;
  std::string describe() const;

  // "d2", "d6", "d12", ...: depth d gives n_layer = d, n_embd = 64·d, n_head = d. vocab_size and
  // seq_len keep their defaults unless given (d12 defaults to GPT-2's 50257 and 1024).
  static GptConfig preset(std::string_view name);
};

constexpr int kMaxHeadSize = 128;  // the attention kernels' limit

}  // namespace alpha::gpt
