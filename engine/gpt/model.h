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
#include "engine/gpt/precision.h"
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
  // and the logits one kernel binds; larger ones are processed in blocks (tests force small
  // blocks). precision: fp32, or fp16 mixed precision (engine/gpt/precision.h): an f16 copy of the
  // weights the matmuls read, refreshed by the optimizer, the linear layers' inputs saved in f16,
  // and dynamic loss scaling in train_step; parameters, gradients and AdamW state stay f32.
  GptModel(vk::Context& context, const GptConfig& config, int B, int T,
           uint64_t max_binding_bytes = 0, Precision precision = Precision::fp32);
  ~GptModel();

  const GptConfig& config() const { return config_; }
  const ParameterLayout& layout() const { return layout_; }
  int batch() const { return B_; }
  int seq() const { return T_; }
  // Bytes per group: parameters, gradients, AdamW m, AdamW v, activations (the forward's, kept for
  // the backward), backward scratch.
  std::vector<MemoryGroup> memory() const;
  static std::vector<MemoryGroup> plan_memory(const GptConfig& config, int B, int T,
                                              Precision precision = Precision::fp32);
  Precision precision() const { return precision_; }
  // fp16: the loss scale train_step applies now (1 in fp32; precision.h says how it moves).
  float loss_scale() const { return loss_scaler_.scale(); }
  const LossScaler& loss_scaler() const { return loss_scaler_; }
  void restore_loss_scaler(float scale, int clean_steps) {
    loss_scaler_.restore(scale, clean_steps);
  }

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

  // tokens and targets are (B, T); a target of -1 is ignored by the loss. One upload into the batch
  // buffer, with the scale of d(loss)/d(logits) that the next forward with loss applies:
  // dloss_scale, or 0 for 1 / (the batch's valid targets), the gradient of the batch's mean loss.
  void set_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                 float dloss_scale = 0);

  // Recording. forward with loss also leaves d(loss)/d(logits) in the logits buffer (fused), scaled
  // as set_batch said. optimizer_step writes config's per-step scalars (learning rate, bias
  // corrections) to the device now, for the stream it records into.
  void forward(vk::CommandStream& stream, bool with_loss);
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
  // optimizer steps once after the last, on the mean of the K batches' mean losses; the loss
  // returned is that mean. The streams are recorded once (per kind: first/middle/last micro-batch,
  // and per AdamW constants) and replayed: each micro-batch is one upload (tokens, targets, the
  // loss scale and AdamW's per-step scalars) and one submit.
  StepResult train_step(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                        const ops::AdamWConfig& config, int micro_batches = 1);
  // train_step in two halves: begin_step returns with the last micro-batch still running on the
  // device (the host can prepare the next batch meanwhile; the batch was copied, the spans may be
  // refilled), end_step waits for it and reads the loss and the gradient norm. Nothing else may
  // use the model in between.
  void begin_step(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                  const ops::AdamWConfig& config, int micro_batches = 1);
  StepResult end_step();
  // Off (ALPHA_DISABLE_REPLAY=1, or false here): train_step records every micro-batch anew, as
  // before replay existed; the results are bit for bit the same (a test), the host's time is not.
  void set_replay(bool on);
  // CPU time of the calling thread in the last train_step (begin_step + end_step), in ms: checking
  // and filling the batch, recording (or not), submitting, reading back; waits on the device do
  // not count.
  double last_host_ms() const { return last_host_ms_; }

  // The forward's saved tensors and the backward's scratch (defined, and listed once, in
  // model.cpp).
  struct Activations;

 private:
  std::vector<float> download_buffer(const vk::BufferSlice& buffer);  // a whole parameter-layout buffer
  void fill_buffer(vk::CommandStream& stream, const vk::BufferSlice& buffer, int64_t floats, float value);
  // Host copy of the batch buffer: fills its parts, then one upload.
  void stage_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                   float dloss_scale);
  void stage_optimizer_scalars(const ops::AdamWConfig& config);
  void upload_batch();
  void record_optimizer_step(vk::CommandStream& stream, const ops::AdamWConfig& config);
  // The recorded stream of one micro-batch kind (zero_grad first? optimizer step last?).
  vk::CommandStream& recorded_step(bool first, bool last, const ops::AdamWConfig& config);

  vk::Context& context_;
  GptConfig config_;
  ParameterLayout layout_;
  int B_, T_;
  int64_t valid_targets_ = 0;
  uint64_t max_binding_bytes_ = 0;
  vk::Arena arena_;
  vk::BufferSlice params_, grads_, adam_m_, adam_v_;
  std::unique_ptr<Activations> acts_;
  Precision precision_;
  vk::BufferSlice params_f16_;  // fp16: the decayed range's f16 copy, at the same element offsets
  LossScaler loss_scaler_;
  float step_loss_scale_ = 1;  // the scale of the step begun
  bool replay_;
  std::vector<int32_t> batch_host_;  // the batch buffer's bytes: step scalars, tokens, targets
  double last_host_ms_ = 0;
  ops::AdamWConfig recorded_config_{};  // the push constants the recorded streams were made with
  std::unique_ptr<vk::CommandStream> recorded_[2][2];  // [first micro-batch][last micro-batch]
  std::unique_ptr<vk::CommandStream> once_;            // the micro-batch recorded anew (replay off)
  vk::CommandStream* in_flight_ = nullptr;             // begun, not ended
  double step_loss_ = 0;                               // the begun step's micro-batch losses so far
  int step_micro_batches_ = 0;
};

}  // namespace alpha::gpt
