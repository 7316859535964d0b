// LayerNorm and RMSNorm over the last dim (eps = 1e-5, biased variance, as PyTorch's default),
// with or without weight and bias, forward and backward (shaders/layernorm.comp,
// layernorm_texel.comp). Every reduction runs in a fixed order: bit-reproducible. No scratch.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

constexpr float kLayernormEps = 1e-5f;

// Workgroup shapes (all powers of two). Defaults per device class come from layernorm_groups();
// tests pass others to cover every path on one device.
struct LayernormGroups {
  uint32_t row;             // forward and dx: invocations sharing one row
  uint32_t param_channels;  // dweight/dbias: channels per workgroup
  uint32_t param_rows;      // dweight/dbias: row lanes per workgroup (summed by a tree)
};
LayernormGroups layernorm_groups(const vk::CommandStream& stream);

// True when layernorm_forward/backward with no groups given run shaders/layernorm_texel.comp (CPU
// devices with texel kernels): C % 4 == 0 and the (N, C) and (C) operands fit texel views.
bool uses_texel_layernorm(const vk::CommandStream& stream, const Tensor& a, const Tensor& b,
                          const Tensor& c, const Tensor& d);

enum class NormKind { layernorm, rmsnorm };

// layernorm: out = (x - mean)·rstd·w + b, rstd = 1/sqrt(mean_c((x - mean)²) + eps);
// rmsnorm: rstd = 1/sqrt(mean_c(x²) + eps), out = x·rstd·w (mean is written as 0).
// weight == nullptr: w = 1 (parameter-free); bias == nullptr: b = 0. A bias needs a weight, and
// rmsnorm takes no bias. mean and rstd are kept for the backward.
void norm_forward(vk::CommandStream& stream, NormKind kind,
                  const Tensor& x,       // (N, C), e.g. (B, T, C)
                  const Tensor* weight,  // (C) or nullptr
                  const Tensor* bias,    // (C) or nullptr
                  const Tensor& out,     // (N, C)
                  const Tensor& mean,    // (N)
                  const Tensor& rstd,    // (N)
                  std::optional<LayernormGroups> groups = {});

// With g = dout·w and xhat = (x - mean)·rstd (rmsnorm: x·rstd):
//   layernorm: dx += rstd·(g - mean_c(g) - xhat·mean_c(g·xhat))
//   rmsnorm:   dx += rstd·(g - xhat·mean_c(g·xhat))                 (ACCUMULATES, both)
//   dweight += sum_n dout·xhat,  dbias += sum_n dout                (ACCUMULATE)
// dweight is given exactly when the forward had a weight, dbias when it had a bias; with no weight
// only dx is computed (one dispatch), with no bias dweight only.
void norm_backward(vk::CommandStream& stream, NormKind kind,
                   const Tensor& dout,     // (N, C)
                   const Tensor& x,        // (N, C) the forward input
                   const Tensor* weight,   // (C) or nullptr, as in the forward
                   const Tensor& mean,     // (N) from norm_forward (unread for rmsnorm)
                   const Tensor& rstd,     // (N) from norm_forward
                   const Tensor& dx,       // (N, C) accumulated
                   const Tensor* dweight,  // (C) accumulated, or nullptr without a weight
                   const Tensor* dbias,    // (C) accumulated, or nullptr without a bias
                   std::optional<LayernormGroups> groups = {});

// norm_forward(layernorm, &weight, &bias): out = (x - mean) * rstd * weight + bias.
void layernorm_forward(vk::CommandStream& stream,
                       const Tensor& x,       // (N, C), e.g. (B, T, C)
                       const Tensor& weight,  // (C)
                       const Tensor& bias,    // (C)
                       const Tensor& out,     // (N, C)
                       const Tensor& mean,    // (N)
                       const Tensor& rstd,    // (N)
                       std::optional<LayernormGroups> groups = {});

// norm_backward(layernorm, &weight, ..., &dweight, &dbias). With xhat = (x - mean) * rstd and
// g = dout * weight:
//   dx += rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))   (ACCUMULATES: the residual-stream
//   gradient); dweight += sum_n dout * xhat,  dbias += sum_n dout       (ACCUMULATE)
void layernorm_backward(vk::CommandStream& stream,
                        const Tensor& dout,     // (N, C)
                        const Tensor& x,        // (N, C) the forward input
                        const Tensor& weight,   // (C)
                        const Tensor& mean,     // (N) from layernorm_forward
                        const Tensor& rstd,     // (N) from layernorm_forward
                        const Tensor& dx,       // (N, C) accumulated
                        const Tensor& dweight,  // (C) accumulated
                        const Tensor& dbias,    // (C) accumulated
                        std::optional<LayernormGroups> groups = {});

}  // namespace alpha::ops
