// Inference benchmark: the KV-cache decoder (engine/gpt/decoder.h) with random weights and tokens.
// Prefill: a prompt of `prompt` tokens in one pass (chunks of up to 64 rows); decode: `steps` more
// tokens one at a time, each a full pass over the layers against the cache. Wall time from submit to
// fence per call, median over iterations, after a warm-up that builds the pipelines.
#pragma once

#include <string>

#include "engine/gpt/config.h"
#include "engine/vk/context.h"

namespace alpha::perf {

struct InferenceBenchResult {
  std::string model;
  int prompt = 0, steps = 0;
  double prefill_tokens_per_s = 0, prefill_ms = 0;  // one prompt pass, median
  double decode_tokens_per_s = 0, decode_ms = 0;    // one token, median over every step of every iteration
  uint64_t memory_bytes = 0;                        // parameters + KV cache + activations
};

// prompt + steps must fit config.seq_len.
InferenceBenchResult bench_inference(vk::Context& context, const std::string& name, const gpt::GptConfig& config,
                                     int prompt, int steps, int iters);

}  // namespace alpha::perf
