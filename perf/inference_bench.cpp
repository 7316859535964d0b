// Prefill and decode timing of the KV-cache decoder (see inference_bench.h).
#include "perf/inference_bench.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/error.h"
#include "engine/gpt/decoder.h"
#include "engine/gpt/init.h"

namespace alpha::perf {

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

InferenceBenchResult bench_inference(vk::Context& context, const std::string& name, const gpt::GptConfig& config,
                                     int prompt, int steps, int iters) {
  if (prompt < 1 || steps < 1 || prompt + steps > config.seq_len)
    fail("inference bench: a {}-token prompt and {} decode steps do not fit the context of {}", prompt, steps,
         config.seq_len);
  gpt::GptDecoder decoder(context, config);
  decoder.set_parameters(gpt::init_parameters(config, gpt::ParameterLayout(config), 1));
  gpt::Rng rng(2);
  std::vector<int32_t> tokens(prompt + steps);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);

  using Clock = std::chrono::steady_clock;
  auto ms_since = [](Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); };
  std::vector<double> prefill_ms, decode_ms;
  for (int i = -1; i < iters; ++i) {  // i = -1: warm-up (pipeline builds), not timed
    decoder.reset();
    auto start = Clock::now();
    decoder.append(std::span(tokens).first(prompt));
    if (i >= 0) prefill_ms.push_back(ms_since(start));
    for (int s = 0; s < steps; ++s) {
      start = Clock::now();
      decoder.append(std::span(tokens).subspan(prompt + s, 1));
      if (i >= 0) decode_ms.push_back(ms_since(start));
    }
  }
  InferenceBenchResult r{name, prompt, steps};
  r.prefill_ms = median(prefill_ms);
  r.decode_ms = median(decode_ms);
  r.prefill_tokens_per_s = prompt / (r.prefill_ms / 1000.0);
  r.decode_tokens_per_s = 1000.0 / r.decode_ms;
  r.memory_bytes = decoder.memory_bytes();
  return r;
}

}  // namespace alpha::perf
