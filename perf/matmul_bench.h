// Matmul micro-benchmark: the tiled kernel against the naive one at given shapes, timed with GPU
// timestamps (median over iterations), with a cross-check of the two results. Used by `alpha bench`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/ops/matmul.h"
#include "engine/vk/context.h"

namespace alpha::perf {

struct MatmulCase {
  std::string name;
  int64_t M, N, K;
  ops::Layout layout = ops::Layout::NN;
};

struct MatmulResult {
  MatmulCase shape;
  std::string kernel;  // "tiled BMxBNxBKxTMxTN" or "naive"
  double median_ms = 0, min_ms = 0, max_ms = 0;
  double gflops = 0;            // at the median
  double max_rel_error = -1;    // tiled vs naive on the same inputs (NN cases), -1 when not checked
};

struct MatmulBenchOptions {
  int iters = 10;
  int warmup = 2;
  bool naive = true;                    // also time the naive kernel (NN cases)
  std::optional<ops::MatmulTile> tile;  // override the device's default tile
};

std::vector<MatmulResult> bench_matmul(vk::Context& context, const std::vector<MatmulCase>& cases,
                                       const MatmulBenchOptions& options);

// 1024³, plus the GPT's own linear-layer shapes at d12 (B·T = 1024 tokens, C = 768).
std::vector<MatmulCase> default_matmul_cases();

}  // namespace alpha::perf
