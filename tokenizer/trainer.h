// BPE training: learn merges from documents up to a vocabulary size, with the GPT-4-style
// pattern and special tokens appended after the merges. Pre-token frequencies are counted
// once (in parallel); merges then update pair counts incrementally through a lazy max-heap.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace alpha::tok {

// <|bos|>, <|endoftext|> and the chat tokens reserved for later.
std::vector<std::string> default_special_tokens();

struct TrainOptions {
  size_t vocab_size = 32768;  // bytes (256) + merges + special tokens
  std::vector<std::string> special_tokens = default_special_tokens();
  PatternKind pattern = PatternKind::gpt4;
  unsigned threads = 0;        // 0: all hardware threads (for counting pre-tokens)
  uint64_t min_frequency = 2;  // stop early when the best pair is rarer than this
};

// Ties between equally frequent pairs go to the smaller (left id, right id), so training is
// deterministic. Throws alpha::Error if vocab_size < 256 + specials or there is no text.
Tokenizer train_tokenizer(const std::vector<std::string_view>& documents,
                          const TrainOptions& options);

}  // namespace alpha::tok
