// GptConfig validation and presets (see config.h).
#include "engine/gpt/config.h"

#include <fmt/format.h>

#include <charconv>

#include "common/error.h"

namespace alpha::gpt {

void GptConfig::validate() const {
  auto positive = [](int value, const char* name) {
    if (value <= 0) fail("model config: {} is {}; it must be a positive integer", name, value);
  };
  positive(n_layer, "n_layer");
  positive(n_head, "n_head");
  positive(n_embd, "n_embd");
  positive(seq_len, "seq_len");
  positive(vocab_size, "vocab_size");
  if (n_embd % n_head != 0)
    fail("model config: n_embd {} is not divisible by n_head {}; pick n_embd = n_head x head size", n_embd, n_head);
  if (head_size() > kMaxHeadSize)
    fail("model config: head size n_embd/n_head = {} exceeds {}; use more heads", head_size(), kMaxHeadSize);
}

std::string GptConfig::describe() const {
  return fmt::format("n_layer={} n_head={} n_embd={} seq_len={} vocab_size={}", n_layer, n_head, n_embd, seq_len,
                     vocab_size);
}

GptConfig GptConfig::preset(std::string_view name) {
  int depth = 0;
  if (name.size() < 2 || name[0] != 'd' ||
      std::from_chars(name.data() + 1, name.data() + name.size(), depth).ptr != name.data() + name.size() ||
      depth < 1 || depth > 48)
    fail("unknown model preset '{}': use d1 .. d48 (d2 tiny, d6 small, d12 = GPT-2 124M)", name);
  GptConfig config;
  config.n_layer = depth;
  config.n_embd = 64 * depth;
  config.n_head = depth;
  if (depth >= 12) {
    config.seq_len = 1024;
    config.vocab_size = 50257;
  }
  return config;
}

}  // namespace alpha::gpt
