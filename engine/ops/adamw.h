// Optimizer kernels: the squared global gradient norm (shaders/sum_squares.comp) and the AdamW step
// with on-device gradient clipping (shaders/adamw.comp), PyTorch semantics. The LR schedule,
// parameter groups and zeroing the gradients are the trainer's.
#pragma once

#include <cstdint>

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

constexpr int64_t kNormPartials = 4096;  // floats of scratch grad_norm_squared needs

// out[0] = sum of squares of all elements of grads, in a fixed order (bit-reproducible). Tensors
// larger than the device's storage-buffer range are processed in chunks (max_chunk_bytes > 0 lowers
// the chunk size, for tests); partials holds kNormPartials floats of scratch.
void grad_norm_squared(vk::CommandStream& stream,
                       const Tensor& grads,     // (any) f32
                       const Tensor& partials,  // (>= kNormPartials) f32 scratch
                       const Tensor& out,       // (>= 1) f32
                       VkDeviceSize max_chunk_bytes = 0);

struct AdamWConfig {
  float lr;                // learning rate of this step
  float beta1 = 0.9f;      // first-moment decay
  float beta2 = 0.95f;     // second-moment decay
  float eps = 1e-8f;       // added to sqrt(vhat)
  float weight_decay = 0;  // decoupled: p -= lr * weight_decay * p
  int step = 1;            // 1-based, for bias correction
  float max_norm = 0;      // clip the global grad norm to this; <= 0: no clipping
  float loss_scale = 1;  // the gradients are this times the loss's (fp16 loss scaling): divided out
                         // before clipping and the update; a power of two, so exactly
};

// The scalars of one AdamW step that change from step to step, folded in double as PyTorch does
// with its Python floats. adamw_update reads them from a device buffer (`step_scalars`), which the
// host writes before each submit: a recorded training step then replays with the next step's
// learning rate.
struct AdamWStepScalars {
  float decay;      // 1 - lr * weight_decay
  float step_size;  // lr / (1 - beta1^step)
  float bc2_sqrt;   // sqrt(1 - beta2^step)
  float inv_loss_scale;  // 1 / loss_scale
};
constexpr int64_t kAdamWStepFloats = 4;  // floats of one AdamWStepScalars in a device buffer
static_assert(sizeof(AdamWStepScalars) == kAdamWStepFloats * 4);
// Throws alpha::Error when config.step < 1 (the bias correction counts from 1).
AdamWStepScalars adamw_step_scalars(const AdamWConfig& config);

// One AdamW step over a contiguous parameter range sharing one weight decay, PyTorch-exact
// semantics: torch.nn.utils.clip_grad_norm_ (coef = max_norm / (sqrt(norm_sq) + 1e-6), applied when
// coef < 1; with a loss scale S, norm_sq and the gradients are S² and S times the loss's: both are
// divided by S first), computed on the device from norm_sq[0] (written by grad_norm_squared; never
// read by the host), then torch.optim.AdamW. grads are not modified. Chunked like
// grad_norm_squared. A non-finite norm_sq[0] skips the update: params, m and v are left untouched.
void adamw_update(
    vk::CommandStream& stream,
    const Tensor& params,        // (P) f32, updated in place
    const Tensor& grads,         // (P) f32
    const Tensor& m,             // (P) f32 first moment, updated in place
    const Tensor& v,             // (P) f32 second moment, updated in place
    const Tensor& norm_sq,       // (>= 1) f32: squared global grad norm
    const Tensor& step_scalars,  // (kAdamWStepFloats) f32: adamw_step_scalars(config)
    const AdamWConfig& config,   // beta1, beta2, eps, max_norm (the rest: step_scalars)
    VkDeviceSize max_chunk_bytes = 0,
    const Tensor* params_f16 = nullptr);  // (P) f16: also gets the new params rounded to f16

}  // namespace alpha::ops
