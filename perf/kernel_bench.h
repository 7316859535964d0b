// Benchmarks of the GPT's non-matmul kernels at the model's own shapes: attention forward and
// backward, LayerNorm forward and backward, GELU (or SwiGLU) forward and backward, softmax
// cross-entropy, the gradient norm and AdamW. Each case names its shape and its work
// (perf/kernel_costs.h); timing is perf/kernel_timer.h's. Matmuls have their own bench
// (perf/matmul_bench.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/vk/context.h"
#include "perf/kernel_costs.h"
#include "perf/kernel_timer.h"

namespace alpha::perf {

enum class KernelOp {
  AttentionForward,
  AttentionBackward,
  LayernormForward,
  LayernormBackward,
  GeluForward,
  GeluBackward,
  SwigluForward,
  SwigluBackward,
  SoftmaxXent,
  GradNorm,
  AdamW
};

// "attention_forward", ...: the op's name in the JSON report, the history and the torch spec.
const char* kernel_op_name(KernelOp op);

struct KernelCase {
  KernelOp op;
  std::string model;                                  // the preset whose shape this is
  std::vector<std::pair<std::string, int64_t>> dims;  // named sizes, e.g. B, T, NH, HS
  std::string shape;                                  // the same, for people: "B8 T256 NH12 HS64"
  KernelWork work;

  int64_t dim(const std::string& name) const;
};

// The op groups `alpha bench --ops` names besides matmul and train.
const std::vector<std::string>& kernel_groups();  // attention, layernorm, gelu, softmax_xent, adamw

// The cases of one group for `config` at B×T tokens: attention over (B, T, NH, HS); LayerNorm over
// (B·T, C); the MLP activation ("gelu": GELU over (B·T, 4C), or for a swiglu model SwiGLU from
// (B·T, 2H) to (B·T, H)); softmax cross-entropy over (B·T, V); grad norm and AdamW over all P
// parameters of the model (one flat tensor). Throws alpha::Error on an unknown group.
std::vector<KernelCase> gpt_kernel_cases(const std::string& group, const std::string& model,
                                         const gpt::GptConfig& config, int B, int T);

struct KernelResult {
  KernelCase kernel;
  Timing timing;
  double rate = 0;  // at the median: GFLOP/s for compute-bound kernels, GB/s for memory-bound ones
};

// Allocates and fills the case's tensors, runs what the op needs first (a forward before its
// backward), then times the op alone (budget_ms: see time_iterations).
KernelResult bench_kernel(vk::Context& context, const KernelCase& kernel, int iters, int warmup,
                          double budget_ms = 0);

}  // namespace alpha::perf
