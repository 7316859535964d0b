// Training-step benchmark (see train_bench.h).
#include "perf/train_bench.h"

#include <algorithm>
#include <chrono>
#include <map>

#include "engine/gpt/init.h"
#include "engine/gpt/model.h"
#include "engine/vk/command_stream.h"
#include "engine/gpt/flops.h"

namespace alpha::perf {

TrainBenchResult bench_train_step(vk::Context& context, const std::string& name,
                                  const gpt::GptConfig& config, int batch, int seq, int iters,
                                  int warmup, gpt::Precision precision) {
  gpt::GptModel model(context, config, batch, seq, 0, precision);
  model.set_parameters(gpt::init_parameters(config, model.layout(), 1));
  gpt::Rng rng(2);
  std::vector<int32_t> tokens(size_t(batch) * seq), targets(tokens.size());
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  for (auto& t : targets) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  ops::AdamWConfig adamw;
  adamw.lr = 3e-4f;
  adamw.weight_decay = 0.1f;
  adamw.max_norm = 1.0f;
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> ms, host_ms;
  int step = 0;
  for (int i = 0; i < warmup + iters; ++i) {
    adamw.step = ++step;
    auto start = std::chrono::steady_clock::now();
    model.train_step(tokens, targets, adamw);
    double elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (i >= warmup) ms.push_back(elapsed), host_ms.push_back(model.last_host_ms());
  }
  std::sort(ms.begin(), ms.end());
  TrainBenchResult r{name, batch, seq};
  r.host_ms_replayed = median(host_ms);
  // The same step recorded anew each time: the host cost that replay saves.
  model.set_replay(false);
  host_ms.clear();
  for (int i = 0; i < std::clamp(iters, 1, 3); ++i) {
    adamw.step = ++step;
    model.train_step(tokens, targets, adamw);
    host_ms.push_back(model.last_host_ms());
  }
  r.host_ms_recorded = median(host_ms);
  r.ms_per_step = ms[ms.size() / 2];
  r.spread_ms = ms.back() - ms.front();
  r.tokens_per_s = batch * seq / (r.ms_per_step / 1000.0);
  r.flops_per_step = double(batch) * seq * gpt::train_flops_per_token(config, seq);
  r.memory = model.memory();

  // One more step with per-dispatch timestamps: where the time goes, by kernel.
  vk::CommandStream stream(context, true);
  model.zero_grad(stream);
  model.forward(stream, true);
  model.backward(stream);
  adamw.step = ++step;
  model.optimizer_step(stream, adamw);
  stream.submit();
  r.dispatches = stream.dispatch_count();
  r.barriers = stream.barrier_count();
  std::map<std::string, double> by_kernel;
  for (const auto& t : stream.timings()) by_kernel[t.label] += t.ms;
  r.kernel_ms.assign(by_kernel.begin(), by_kernel.end());
  std::sort(r.kernel_ms.begin(), r.kernel_ms.end(),
            [](auto& a, auto& b) { return a.second > b.second; });
  return r;
}

}  // namespace alpha::perf
