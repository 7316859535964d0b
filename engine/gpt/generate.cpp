// The generation loop (see generate.h).
#include "engine/gpt/generate.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/error.h"

namespace alpha::gpt {

GenerateStats generate(GptDecoder& decoder, std::span<const int32_t> prompt, const GenerateOptions& options,
                       const std::function<bool(int32_t)>& on_token) {
  if (prompt.empty()) fail("generation needs at least one prompt token");
  if (options.max_tokens < 0) fail("--max-tokens must not be negative");
  options.sampling.validate();
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const size_t capacity = decoder.capacity();
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  GenerateStats stats;
  stats.prompt_tokens = static_cast<int>(std::min(history.size(), capacity));

  auto start = Clock::now();
  decoder.reset();
  std::vector<float> logits = decoder.append(std::span(history).last(stats.prompt_tokens));
  stats.prefill_s = seconds_since(start);

  Rng rng(options.seed);
  start = Clock::now();
  for (int i = 0; i < options.max_tokens; ++i) {
    const int32_t token = sample_token(logits, options.sampling, rng);
    ++stats.new_tokens;
    if (!on_token(token) || token == options.stop_token || i + 1 == options.max_tokens) break;
    history.push_back(token);
    if (static_cast<size_t>(decoder.position()) == capacity) {  // full: rerun the newest half
      decoder.reset();
      logits = decoder.append(std::span(history).last(std::max<size_t>(1, capacity / 2)));
    } else {
      logits = decoder.append(std::span(history).last(1));
    }
  }
  stats.decode_s = seconds_since(start);
  return stats;
}

}  // namespace alpha::gpt
