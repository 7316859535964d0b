// Training-step benchmark: a GPT of a given config does full steps (zero grad, forward, loss,
// backward, clip, AdamW) on random tokens; wall time per step (host submit to fence) and tokens/s,
// median over iterations, and the host's CPU time per step with the step replayed and recorded
// anew. The PyTorch peer (perf/torch_peer.h) runs the identical step.
#pragma once

#include <string>

#include "engine/gpt/config.h"
#include "engine/gpt/model.h"
#include "engine/vk/context.h"

namespace alpha::perf {

struct TrainBenchResult {
  std::string model;
  int batch = 0, seq = 0;
  double ms_per_step = 0, tokens_per_s = 0, spread_ms = 0;
  double flops_per_step = 0;  // training FLOPs of one step, PaLM/nanoGPT convention (engine/gpt/flops.h)
  std::vector<gpt::MemoryGroup>
      memory;  // bytes per group (parameters, gradients, AdamW, activations)
  // GPU time per kernel over one profiled step (GPU timestamps), largest first; empty without them.
  std::vector<std::pair<std::string, double>> kernel_ms;
  size_t dispatches = 0, barriers = 0;
  // CPU time of the host thread per step (median, ms): the step recorded once and replayed (the
  // timed iterations), and recorded anew every step (as before replay; a few extra steps).
  double host_ms_replayed = 0, host_ms_recorded = 0;
};

TrainBenchResult bench_train_step(vk::Context& context, const std::string& name,
                                  const gpt::GptConfig& config, int batch, int seq, int iters,
                                  int warmup, gpt::Precision precision = gpt::Precision::fp32);

}  // namespace alpha::perf
