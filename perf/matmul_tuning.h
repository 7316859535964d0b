// The matmul tile tuner: times every candidate tile (ops::matmul_tile_candidates) at a model's own
// linear-layer shapes and saves the fastest for the device (ops/matmul_tuning.h). `alpha bench
// --tune` runs it; so does alpha train's first run on a GPU without a saved tile.
#pragma once

#include <string>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/ops/matmul.h"
#include "perf/matmul_bench.h"

namespace alpha::perf {

struct TuneCandidate {
  ops::MatmulTile tile;
  double total_ms = 0;          // sum of the cases' medians; 0 when it failed
  std::vector<double> case_ms;  // per case, in the cases' order
  std::string error;            // why it could not run, if it could not
};

struct TuneResult {
  std::vector<MatmulCase> cases;
  std::vector<TuneCandidate> candidates;
  ops::MatmulTile winner;
};

// Times the candidates on `cases` (options.tile is ignored), saves the winner with `shapes` as its
// description, and returns the table. Throws alpha::Error when no candidate ran.
TuneResult tune_matmul_tile(vk::Context& context, const std::vector<MatmulCase>& cases,
                            const std::string& shapes, MatmulBenchOptions options);

// alpha train's --tune: "auto" tunes on a GPU that has no saved tile (ALPHA_MATMUL_TILE unset), "on"
// tunes on any device, "off" never. It times the candidates at the model's linear layers for
// `tokens` rows (a few seconds on a GPU) and saves the winner, printing one line before and one
// after. Returns whether it tuned. Throws alpha::Error for another mode.
bool tune_before_training(vk::Context& context, const gpt::GptConfig& config, const std::string& model,
                          int64_t tokens, const std::string& mode);

}  // namespace alpha::perf
