// A GPT model (GPT-2 or another architecture of GptConfig) on the device: parameters, gradients, AdamW state and every activation for a B×T
// batch live in one arena sized at construction (asking for more later is an error, not a
// reallocation). forward/backward/optimizer record kernel calls into a command stream, in model
// order; the host uploads a batch and reads back only the loss and the gradient norm.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/gpt/parameters.h"
#include "engine/ops/adamw.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "engine/vk/context.h"

namespace alpha::gpt {

struct MemoryGroup {
  std::string name;
  uint64_t bytes = 0;
};

struct StepResult {
  float loss = 0;       // mean over the non-ignored targets
  float grad_norm = 0;  // before clipping
};

class GptModel {
 public:
  // Validates the config and B, T, checks the total against device memory, then allocates once.
  // max_binding_bytes (0: the device's storage-buffer range) bounds how much of the token embedding
  // and the logits one kernel binds; larger ones are processed in blocks (tests force small blocks).
  GptModel(vk::Context& context, const GptConfig& config, int B, int T, uint64_t max_binding_bytes = 0);
  ~GptModel();

  const GptConfig& config() const { return config_; }
  const ParameterLayout& layout() const { return layout_; }
  int batch() const { return B_; }
  int seq() const { return T_; }
  // Bytes per group: parameters, gradients, AdamW m, AdamW v, activations (the forward's, kept for
  // the backward), backward scratch.
  std::vector<MemoryGroup> memory() const;
  static std::vector<MemoryGroup> plan_memory(const GptConfig& config, int B, int T);

  // Whole-buffer host copies (layout().total_floats floats).
  void set_parameters(std::span<const float> values);
  std::vector<float> parameters();
  std::vector<float> gradients();
  // AdamW state (whole buffers in the parameter layout), for checkpoints.
  std::vector<float> adam_m();
  std::vector<float> adam_v();
  void set_optimizer_state(std::span<const float> m, std::span<const float> v);
  // The whole parameter buffer on the device (for a GptDecoder sampling while training).
  const vk::BufferSlice& parameter_buffer() const { return params_; }
  // One parameter/gradient by layout index.
  Tensor parameter(int index) const;
  Tensor gradient(int index) const;

  // tokens and targets are (B, T); a target of -1 is ignored by the loss.
  void set_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets);

  // Recording. forward with loss also leaves d(loss)/d(logits) in the logits buffer (fused), scaled
  // by dloss_scale: 0 means 1 / (the batch's valid targets), the gradient of the batch's mean loss.
  void forward(vk::CommandStream& stream, bool with_loss, float dloss_scale = 0);
  void zero_grad(vk::CommandStream& stream);
  void backward(vk::CommandStream& stream);
  void optimizer_step(vk::CommandStream& stream, const ops::AdamWConfig& config);

  // After a submitted stream: results on the host.
  float read_loss();
  float read_grad_norm();
  std::vector<float> read_logits();  // (B, T, V); valid after forward(with_loss = false)

  // zero_grad + forward + backward + optimizer step in one stream, one submit.
  // With micro_batches = K > 1, tokens and targets hold K batches of (B, T) one after another:
  // gradient accumulation. Each is one submit (forward + backward, the gradients summed), and the
  // optimizer steps once after the last, on the mean of the K batches' mean losses; the loss returned
  // is that mean.
  StepResult train_step(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                        const ops::AdamWConfig& config, int micro_batches = 1);

  // The forward's saved tensors and the backward's scratch (defined, and listed once, in
  // model.cpp).
  struct Activations;

 private:
  std::vector<float> download_buffer(const vk::BufferSlice& buffer);  // a whole parameter-layout buffer
  void fill_buffer(vk::CommandStream& stream, const vk::BufferSlice& buffer, int64_t floats, float value);

  vk::Context& context_;
  GptConfig config_;
  ParameterLayout layout_;
  int B_, T_;
  int64_t valid_targets_ = 0;
  uint64_t max_binding_bytes_ = 0;
  vk::Arena arena_;
  vk::BufferSlice params_, grads_, adam_m_, adam_v_;
  std::unique_ptr<Activations> acts_;
};

}  // namespace alpha::gpt
