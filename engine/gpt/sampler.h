// Picking the next token from a row of logits: greedy, or a draw from the temperature-scaled
// softmax restricted to the top-k tokens and then to the top-p nucleus. Host code: the logits row
// (V floats) is the only thing read back per generated token.
#pragma once

#include <cstdint>
#include <span>

#include "engine/gpt/init.h"

namespace alpha::gpt {

struct SamplingOptions {
  float temperature = 0.8f;  // 0: always the most likely token (greedy)
  int top_k = 50;            // keep the k most likely tokens; 0: all
  float top_p = 0.95f;       // then the fewest tokens whose probability reaches p; 1: all

  // Throws alpha::Error naming the bad option.
  void validate() const;
};

// The token drawn with `rng` (ties and order are deterministic: same logits, options and rng state,
// same token on any machine).
int32_t sample_token(std::span<const float> logits, const SamplingOptions& options, Rng& rng);

}  // namespace alpha::gpt
