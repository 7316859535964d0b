// Serving benchmark: the continuous-batching scheduler (serve/scheduler.h) in process, with random
// weights. Aggregate decode tokens/s with 1, 4 and 8 concurrent greedy streams (all submitted at
// once, timed from the last one's first token to the last token), and time to first token of one
// request with a 128-token prompt against the plain prefill of the same prompt
// (GptDecoder::append).
#pragma once

#include <string>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/vk/context.h"

namespace alpha::perf {

struct ServeBenchResult {
  std::string model;
  std::vector<int> streams;                 // 1, 4, 8
  std::vector<double> decode_tokens_per_s;  // aggregate, per entry of streams
  int prompt = 128;
  double ttft_ms = 0, prefill_ms = 0;  // medians
};

// steps: new tokens per stream; 16 + steps and prompt + 1 must fit config.seq_len.
ServeBenchResult bench_serve(vk::Context& context, const std::string& name,
                             const gpt::GptConfig& config, int steps, int iters);

}  // namespace alpha::perf
