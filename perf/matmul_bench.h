// Matmul micro-benchmark: the tiled kernel (and, where a case asks, the naive one with a
// cross-check of the two results) at given shapes, timed by perf/kernel_timer.h. The shapes: a
// square one and the GPT's own linear-layer shapes for a config at B·T tokens. Used by `alpha
// bench`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/ops/matmul.h"
#include "engine/vk/context.h"

namespace alpha::perf {

struct MatmulCase {
  std::string name;
  int64_t M, N, K;
  ops::Layout layout = ops::Layout::NN;
  bool naive = false;  // also time the naive kernel and cross-check (NN only; slow: small shapes)
};

struct MatmulResult {
  MatmulCase shape;
  std::string kernel;  // "texel", "tiled BMxBNxBKxTMxTN" or "naive"
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int iters = 0;              // timed
  double gflops = 0;          // at the median
  double max_rel_error = -1;  // tiled vs naive on the same inputs, -1 when not checked
};

struct MatmulBenchOptions {
  int iters = 10;
  int warmup = 2;
  double budget_ms = 0;                 // per kernel row: see time_iterations
  bool naive = true;                    // time the naive kernel where a case asks for it
  std::optional<ops::MatmulTile> tile;  // override the device's default tile
};

std::vector<MatmulResult> bench_matmul(vk::Context& context, const std::vector<MatmulCase>& cases,
                                       const MatmulBenchOptions& options);

const char* layout_name(ops::Layout layout);

// n×n×n, NN.
MatmulCase square_matmul_case(int64_t n, bool naive);
// The GPT's linear layers for `config` at `tokens` = B·T rows, named after `model`: the qkv and fc
// forward (NT), the fc weight gradient (TN) and the fc input gradient (NN).
std::vector<MatmulCase> gpt_matmul_cases(const std::string& model, const gpt::GptConfig& config,
                                         int64_t tokens);

}  // namespace alpha::perf
