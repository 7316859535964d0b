// Per-iteration device time from GPU timestamps (see kernel_timer.h).
#include "perf/kernel_timer.h"

#include <algorithm>
#include <chrono>

#include "common/error.h"

namespace alpha::perf {

// A profiled stream times at most this many dispatches (command_stream.cpp's query pool); longer
// runs are split over several streams.
constexpr size_t kTimedDispatchesPerStream = 4000;

using Record = std::function<void(vk::CommandStream&)>;

// Times `count` iterations recorded into one profiled stream (one stream each without timestamps),
// appending each iteration's time to `ms`.
static void time_batch(vk::Context& context, int count, const Record& record, Timing& t,
                       std::vector<double>& ms) {
  if (!context.info().timestamps) {
    for (int i = 0; i < count; ++i) {
      vk::CommandStream stream(context);
      record(stream);
      t.dispatches = stream.dispatch_count();
      const auto start = std::chrono::steady_clock::now();
      stream.submit();
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    }
    return;
  }
  vk::CommandStream stream(context, true);
  for (int i = 0; i < count; ++i) record(stream);
  t.dispatches = stream.dispatch_count() / count;
  if (stream.dispatch_count() > kTimedDispatchesPerStream)
    fail(
        "time_iterations: {} iterations record {} dispatches; at most {} can be timed in one "
        "stream",
        count, stream.dispatch_count(), kTimedDispatchesPerStream);
  stream.submit();
  const auto& timings = stream.timings();
  for (int i = 0; i < count; ++i) {
    double sum = 0;
    for (size_t d = 0; d < t.dispatches; ++d) sum += timings.at(i * t.dispatches + d).ms;
    ms.push_back(sum);
  }
}

Timing time_iterations(vk::Context& context, int iters, int warmup, const Record& record,
                       double budget_ms) {
  if (iters < 1) fail("time_iterations: iters is {}, it must be at least 1", iters);
  if (warmup > 0) {
    vk::CommandStream warm(context);
    for (int i = 0; i < warmup; ++i) record(warm);
    warm.submit();
  }
  Timing t;
  std::vector<double> ms;
  time_batch(context, 1, record, t, ms);  // the first alone: its time sizes the rest
  int target = iters;
  if (budget_ms > 0 && ms[0] > 0)
    target = std::clamp(int(budget_ms / ms[0]), std::min(iters, kMinBudgetIterations), iters);
  const int per_stream =
      std::max<int>(1, int(kTimedDispatchesPerStream / std::max<size_t>(t.dispatches, 1)));
  while (int(ms.size()) < target)
    time_batch(context, std::min(per_stream, target - int(ms.size())), record, t, ms);
  t.iters = int(ms.size());
  std::sort(ms.begin(), ms.end());
  t.median_ms = ms[ms.size() / 2];
  t.min_ms = ms.front();
  t.max_ms = ms.back();
  return t;
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  // splitmix64: fast enough for the hundreds of millions of values of d12's AdamW state.
  uint64_t state = 0x9E3779B97F4A7C15ull * (uint64_t(seed) + 1);
  std::vector<float> v(n);
  for (auto& x : v) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x = float(z >> 40) * (2.0f / float(1 << 24)) - 1.0f;  // 24 random bits -> [-1, 1)
  }
  return v;
}

}  // namespace alpha::perf
