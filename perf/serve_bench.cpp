// Aggregate decode throughput and time to first token through the scheduler (see serve_bench.h).
#include "perf/serve_bench.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/error.h"
#include "engine/gpt/decoder.h"
#include "engine/gpt/init.h"
#include "serve/scheduler.h"

namespace alpha::perf {

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

std::vector<int32_t> random_prompt(int n, int vocab, uint64_t seed) {
  gpt::Rng rng(seed);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % vocab);
  return tokens;
}

struct Timeline {
  Clock::time_point first, last;  // first token, end
  int tokens = 0;
};

// Submits one greedy request per prompt at once and follows each on its own thread.
std::vector<Timeline> run_streams(serve::Scheduler& scheduler,
                                  const std::vector<std::vector<int32_t>>& prompts, int steps) {
  std::vector<std::shared_ptr<serve::Generation>> generations;
  for (const auto& prompt : prompts) {
    serve::GenerationRequest request;
    request.prompt = prompt;
    request.max_tokens = steps;
    request.sampling.temperature = 0;
    generations.push_back(scheduler.submit(std::move(request)));
  }
  std::vector<Timeline> timelines(prompts.size());
  std::vector<std::thread> followers;
  for (size_t i = 0; i < generations.size(); ++i)
    followers.emplace_back([&, i] {
      Timeline& t = timelines[i];
      for (;;) {
        const auto update = generations[i]->wait(std::chrono::milliseconds(100));
        if (!update.tokens.empty() && t.tokens == 0) t.first = Clock::now();
        t.tokens += static_cast<int>(update.tokens.size());
        if (update.finish) {
          if (*update.finish == serve::Finish::error) fail("serve bench: {}", update.error);
          t.last = Clock::now();
          return;
        }
      }
    });
  for (auto& f : followers) f.join();
  return timelines;
}

}  // namespace

ServeBenchResult bench_serve(vk::Context& context, const std::string& name,
                             const gpt::GptConfig& config, int steps, int iters) {
  ServeBenchResult r;
  r.model = name;
  r.streams = {1, 4, 8};
  const int slots = r.streams.back(), prompt_tokens = 16;
  if (prompt_tokens + steps > config.seq_len || r.prompt + 1 > config.seq_len)
    fail(
        "serve bench: {} steps after a {}-token prompt, or a {}-token prompt, do not fit the "
        "context of {}",
        steps, prompt_tokens, r.prompt, config.seq_len);
  gpt::GptDecoder decoder(context, config, 64, 0, nullptr, slots);
  const auto params = gpt::init_parameters(config, gpt::ParameterLayout(config), 1);
  decoder.set_parameters(params);
  serve::Scheduler scheduler(decoder, slots);

  for (const int streams : r.streams) {
    std::vector<double> rates;
    for (int i = -1; i < iters; ++i) {  // i = -1: warm-up (pipeline builds), not timed
      std::vector<std::vector<int32_t>> prompts;
      for (int s = 0; s < streams; ++s)
        prompts.push_back(random_prompt(prompt_tokens, config.vocab_size, 10 + s));
      const auto timelines = run_streams(scheduler, prompts, steps);
      Clock::time_point start = timelines[0].first, end = timelines[0].last;
      int tokens = 0;
      for (const auto& t : timelines) {
        start = std::max(start, t.first), end = std::max(end, t.last);
        tokens += t.tokens;
      }
      // decode only: from the moment every stream has its first token (the prefills ran) to the
      // last token, the tokens after each stream's first
      const double seconds = std::chrono::duration<double>(end - start).count();
      if (i >= 0) rates.push_back((tokens - streams) / std::max(seconds, 1e-9));
    }
    r.decode_tokens_per_s.push_back(median(rates));
  }

  // time to first token through the idle scheduler, against the decoder's prefill of the same
  // prompt
  gpt::GptDecoder plain(context, config);
  plain.set_parameters(params);
  const auto prompt = random_prompt(r.prompt, config.vocab_size, 3);
  std::vector<double> ttft, prefill;
  for (int i = -1; i < iters; ++i) {
    const auto start = Clock::now();
    const auto timelines = run_streams(scheduler, {prompt}, 1);
    if (i >= 0)
      ttft.push_back(std::chrono::duration<double, std::milli>(timelines[0].first - start).count());
    plain.reset();
    const auto p0 = Clock::now();
    plain.append(prompt);
    if (i >= 0)
      prefill.push_back(std::chrono::duration<double, std::milli>(Clock::now() - p0).count());
  }
  r.ttft_ms = median(ttft);
  r.prefill_ms = median(prefill);
  return r;
}

}  // namespace alpha::perf
