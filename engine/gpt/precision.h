// Training precision: fp32 everywhere, or mixed precision with fp16 matmul operands (the weights'
// f16 copy, kept by the optimizer, and the linear layers' inputs rounded to f16 and saved so for
// the backward) over fp32 master weights, gradients, AdamW state, norms, attention and every sum,
// with dynamic loss scaling. Checkpoints hold the f32 master weights either way.
#pragma once

#include <string>
#include <string_view>

#include "engine/vk/context.h"

namespace alpha::gpt {

enum class Precision { fp32, fp16 };

const char* precision_name(Precision precision);

// "fp32", "fp16", "bf16" or "auto" for this device. auto: fp16 on a GPU with 16-bit storage, else
// fp32 (CPU devices: lavapipe converts every f16 load and gains no arithmetic, see the README).
// bf16 is not built yet (Debian 12's glslang has no bfloat16 type) and says so; fp16 on a device
// without 16-bit storage, or anything else, is an alpha::Error naming the choices.
Precision resolve_precision(std::string_view name, const vk::Context& context);
// The names resolve_precision takes, for --help and errors.
std::string precision_choices();

// Dynamic loss scaling for fp16 (PyTorch's GradScaler rule): start at 2^16; a step whose gradients
// are not finite halves the scale (the optimizer has skipped that step); kGrowthInterval clean
// steps in a row double it. The scale stays a power of two in [1, 2^24].
class LossScaler {
 public:
  static constexpr int kGrowthInterval = 2000;
  explicit LossScaler(bool enabled) : scale_(enabled ? 65536.0f : 1.0f), enabled_(enabled) {}
  float scale() const { return scale_; }
  int clean_steps() const { return clean_steps_; }
  // After a step: its gradients were finite or not.
  void update(bool finite);
  // Where a checkpoint left it (a resumed run scales as the uninterrupted one would); throws
  // alpha::Error unless scale is finite and positive. Does nothing when loss scaling is off.
  void restore(float scale, int clean_steps);

 private:
  float scale_;
  bool enabled_;
  int clean_steps_ = 0;
};

}  // namespace alpha::gpt
