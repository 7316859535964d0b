// Device time of a recorded operation, the one timing method every kernel benchmark in perf/
// shares: the operation is recorded into profiled command streams after untimed warm-up runs, and
// each iteration's time is the sum of its dispatches' GPU timestamps; on a device without
// timestamps, the wall time of one submit per iteration. An optional time budget bounds slow rows
// (lavapipe). Also the benchmarks' random inputs.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/vk/command_stream.h"
#include "engine/vk/context.h"

namespace alpha::perf {

// Median and extremes of per-iteration times, in ms.
struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int iters = 0;          // iterations timed
  size_t dispatches = 0;  // per iteration
};

// A time budget never cuts a row below this many timed iterations (or --iters, if fewer).
constexpr int kMinBudgetIterations = 3;

// Records `record` (one iteration: any number of dispatches) warmup times untimed, then times up to
// iters more. With budget_ms > 0, the first timed iteration sizes the rest: only as many run as fit
// the budget, and at least kMinBudgetIterations. The recorded work must leave its inputs valid for
// the next iteration.
Timing time_iterations(vk::Context& context, int iters, int warmup,
                       const std::function<void(vk::CommandStream&)>& record, double budget_ms = 0);

// Uniform in [-1, 1), deterministic for a seed.
std::vector<float> random_values(size_t n, uint32_t seed);

}  // namespace alpha::perf
