// `alpha tokenizer bench`: times BPE training and encoding (1 and 2 threads) on a text sample
// and prints a markdown table for perf/tokenizer.md. Measurement only; no assertions.
#pragma once

#include <string>
#include <vector>

namespace alpha::tok {

struct BenchOptions {
  std::vector<std::string> inputs;
  size_t max_bytes = 10'000'000;
  size_t vocab_size = 32768;
  std::string gpt2_dir;  // optional: also time GPT-2's vocabulary
  int repeat = 3;
};

void run_bench(const BenchOptions& options);

}  // namespace alpha::tok
