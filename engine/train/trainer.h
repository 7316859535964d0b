// The training loop behind `alpha train`: tokenizer (loaded or trained), cached token shards, a
// GPT on the device, AdamW with a warmup + cosine/linear/constant schedule, periodic validation,
// a run directory with config.json and metrics.jsonl, atomic checkpoints and an exact resume.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/vk/context.h"

namespace alpha::train {

struct TrainOptions {
  std::vector<std::string> data;          // text files, folders, globs, .jsonl
  std::string model = "d2";               // preset: d1 .. d48
  std::string arch = "gpt2";              // gpt2 | modern (see GptConfig::with_arch)
  std::string mlp;                        // gelu | relu2 | swiglu over the arch's; "": its own
  std::string precision = "auto";         // fp32 | fp16 | bf16 | auto (engine/gpt/precision.h)
  int steps = 300;                        // optimizer steps
  int64_t tokens = 0;                     // > 0: train on this many tokens instead (sets steps)
  int batch = 8;                          // B
  int grad_accum = 1;                     // micro-batches of B×T per optimizer step
  int seq = 128;                          // T
  float lr = 3e-3f;                       // peak learning rate
  float min_lr = 3e-4f;                   // floor of the decay
  int warmup = 30;                        // linear warmup steps
  std::string schedule = "cosine";        // cosine | linear | constant
  float weight_decay = 0.1f;              // AdamW, matrices and embeddings only
  float clip = 1.0f;                      // global grad-norm clip; <= 0 disables
  int eval_every = 50;                    // steps between validation passes; 0 disables
  int eval_batches = 4;                   // validation batches per pass
  int64_t eval_tokens = 0;                // > 0: validation tokens per pass instead (sets eval_batches)
  uint64_t seed = 1;
  int vocab = 4096;                       // tokenizer vocabulary when one is trained
  std::string run;                        // run name; default: <model>-<date>-<time>
  std::filesystem::path runs_dir = "runs";
  std::filesystem::path tokenizer_artifacts;  // default: runs/<run>/tokenizer.bin
  std::filesystem::path cache_dir = "data/cache";
  std::string git_commit = "unknown";     // recorded in config.json
  int ckpt_every = 100;                   // steps between checkpoints (and one at the end)
  int keep = 3;                           // checkpoints kept (newest first), plus the best by val loss
  int max_bad_steps = 5;                  // non-finite steps in a row before the run stops
  int sample_every = 100;                 // steps between samples in samples.txt; 0: none
  int sample_tokens = 48;                 // tokens per sample
  // Set by the caller for the MFU column (not saved with the run): the device's measured peak FLOP/s
  // (e.g. its best matmul). 0: MFU not reported.
  double peak_flops = 0;

  // Throws alpha::Error naming the bad option.
  void validate() const;
  // steps from tokens and eval_batches from eval_tokens, where those are given.
  void resolve_counts();
};

// Learning rate at a 0-based step: linear warmup to lr, then the schedule down to min_lr at the end.
float learning_rate(const TrainOptions& options, int step);

struct StepReport {
  int step = 0, steps = 0;
  float loss = 0, lr = 0, grad_norm = 0;
  double ms = 0, tokens_per_s = 0, eta_s = 0;
  double mfu = 0;         // model FLOPs utilization; 0: unknown
  float val_loss = -1;    // < 0: no validation this step
  bool skipped = false;   // the loss or gradient norm was not finite: no update was made
  int skipped_total = 0;  // skipped steps so far in this run
};

// Trains and returns the run directory. `progress` is called after every step. A stop request
// (request_stop(), e.g. from SIGINT) ends the run after the current step with a checkpoint. A step
// whose gradient norm is not finite makes no update (the optimizer skips it on the device) and is
// counted; max_bad_steps of them in a row end the run with an error and a checkpoint of the weights,
// which the skipped steps left untouched.
std::filesystem::path train(vk::Context& context, const TrainOptions& options,
                            const std::function<void(const StepReport&)>& progress);

// Continues the run in `run_dir` from its newest valid checkpoint (a corrupt newest one is skipped
// with a warning) with the options saved in its config.json; losses continue bit for bit.
std::filesystem::path resume(vk::Context& context, const std::filesystem::path& run_dir,
                             const std::function<void(const StepReport&)>& progress);

// Async-signal-safe: asks the running train() / resume() to checkpoint and return.
void request_stop();

}  // namespace alpha::train
