// The PyTorch peer of `alpha bench --vs-torch`: perf/torch_baseline.py times the identical work
// (the ceilings, the matmul and kernel shapes, the training steps, inference with the KV cache) in
// one run. This file writes its spec, runs it (/usr/bin/python3, or ALPHA_TORCH_PYTHON;
// ALPHA_TORCH_SCRIPT replaces the script) and reads its results back, in the order of the spec.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/gpt/config.h"
#include "perf/kernel_bench.h"
#include "perf/matmul_bench.h"

namespace alpha::perf {

struct TrainCase {
  std::string model;
  gpt::GptConfig config;
  int batch = 0, seq = 0;
};

// Batch 1 through the KV-cache decoder: a prefill of `prompt` tokens, then `steps` one-token
// passes.
struct InferCase {
  std::string model;
  gpt::GptConfig config;
  int prompt = 0, steps = 0;  // prompt + steps <= config.seq_len
};

// What the peer is asked to time.
struct TorchWork {
  int iters = 10, warmup = 2;
  double budget_ms = 0;               // per row, as alpha's (time_iterations)
  int64_t copy_floats = 0;            // the copy ceiling (0: no ceilings)
  std::vector<int64_t> matmul_sizes;  // the square matmul ceiling
  std::vector<MatmulCase> matmuls;
  std::vector<KernelCase> kernels;
  std::vector<TrainCase> train;
  std::vector<InferCase> infer;
};

struct TorchTiming {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  std::string variant;  // how it ran: "cpu 2 threads", "cuda fp32", ...
};

struct TorchTrainStep {
  double ms_per_step = 0, tokens_per_s = 0;
  std::string variant;  // the fastest variant, reported as the peer
  std::vector<std::pair<std::string, double>> variants;  // every variant tried, ms per step
};

// As alpha's InferenceBenchResult: wall time per call, each figure the faster variant.
struct TorchInference {
  TorchTiming prefill;  // one prompt pass, median over iterations
  TorchTiming decode;   // one token, median over every step of every iteration
  double prefill_tokens_per_s = 0, decode_tokens_per_s = 0;
};

struct TorchResults {
  std::string version, device;
  std::vector<std::string> notes;
  double copy_gbps = 0, matmul_gflops = 0;  // 0 when no ceilings were asked for
  std::vector<TorchTiming> matmuls, kernels;
  std::vector<TorchTrainStep> train;
  std::vector<TorchInference> infer;
};

// nullopt, with the reason printed to stderr, when the script is missing, torch is not installed or
// the script fails: the bench goes on without the peer.
std::optional<TorchResults> run_torch_peer(const TorchWork& work);

// The script that run_torch_peer runs.
std::string torch_script_path();

}  // namespace alpha::perf
