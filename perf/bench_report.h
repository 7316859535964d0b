// What one `alpha bench` run measured, with the PyTorch peer's figure beside each row, and the two
// ways it is kept: the JSON report (--json) and the history rows (--record, --check; history.h).
// Measuring and printing are the benches' and the CLI's; this file only shapes the results.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/gpt/config.h"
#include "perf/ceilings.h"
#include "perf/history.h"
#include "perf/inference_bench.h"
#include "perf/kernel_bench.h"
#include "perf/matmul_bench.h"
#include "perf/torch_peer.h"
#include "perf/train_bench.h"

namespace alpha::perf {

struct MatmulRow {
  MatmulResult result;
  double ceiling_fraction = 0;       // GFLOP/s over the matmul ceiling
  std::optional<TorchTiming> torch;  // the tiled rows' peer
};

struct KernelRow {
  KernelResult result;
  double ceiling_fraction = 0;  // GFLOP/s over the matmul ceiling or GB/s over the copy ceiling
  std::optional<TorchTiming> torch;
};

struct TrainRow {
  TrainBenchResult result;
  gpt::GptConfig config;
  double mfu = 0;  // training FLOP/s over the matmul ceiling
  std::optional<TorchTrainStep> torch;
};

struct InferenceRow {
  InferenceBenchResult result;
  gpt::GptConfig config;
  std::optional<TorchInference> torch;
};

struct BenchReport {
  std::string time, commit;
  std::string device, device_type, driver, driver_info;
  nlohmann::json options;  // the resolved command-line options
  Ceilings ceilings;
  std::optional<TorchResults> torch;  // version, device, notes and ceilings of the peer
  std::vector<MatmulRow> matmuls;
  std::vector<KernelRow> kernels;
  std::vector<TrainRow> trains;
  std::vector<InferenceRow> inferences;
};

// Torch time over alpha's time: above 1 means alpha is faster.
inline double speed_ratio(double torch_ms, double alpha_ms) {
  return torch_ms / alpha_ms;
}

// Every result; non-finite numbers become null.
nlohmann::json report_json(const BenchReport& report);

// One row per metric: median_ms and gflops or gbps per kernel row, gbps/gflops per ceiling,
// ms_per_step, tokens_per_s and mfu per training row, prefill_ms, decode_ms and their tokens_per_s
// per inference row; the peer's figures as torch_* (recorded, never checked: see metric_kind).
std::vector<HistoryRow> report_history_rows(const BenchReport& report);

}  // namespace alpha::perf
