// Text generation on a KV-cache decoder: prefill the prompt, then sample one token at a time. When
// the context fills up, the newest half of it is run again from position 0 and generation goes on
// (the position table has seq_len rows, so a longer context cannot be extended in place).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "engine/gpt/decoder.h"
#include "engine/gpt/sampler.h"

namespace alpha::gpt {

struct GenerateOptions {
  int max_tokens = 200;               // new tokens at most
  SamplingOptions sampling;
  uint64_t seed = 1;
  std::optional<int32_t> stop_token;  // generation ends after this one (e.g. <|endoftext|>)
};

struct GenerateStats {
  int prompt_tokens = 0, new_tokens = 0;
  double prefill_s = 0, decode_s = 0;  // wall time of the prompt pass and of the token steps
};

// Calls on_token for each new token as soon as it is drawn; returning false stops. The prompt must
// not be empty (its last capacity() tokens are used).
GenerateStats generate(GptDecoder& decoder, std::span<const int32_t> prompt, const GenerateOptions& options,
                       const std::function<bool(int32_t)>& on_token);

}  // namespace alpha::gpt
