// LayerNorm over the last dim (eps = 1e-5, biased variance, as PyTorch's default), forward and
// backward (shaders/layernorm.comp). Every reduction runs in a fixed order: bit-reproducible. No
// scratch.
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

// out = (x - mean) * rstd * weight + bias; mean and rstd are kept for the backward.
void layernorm_forward(vk::CommandStream& stream,
                       const Tensor& x,       // (N, C), e.g. (B, T, C)
                       const Tensor& weight,  // (C)
                       const Tensor& bias,    // (C)
                       const Tensor& out,     // (N, C)
                       const Tensor& mean,    // (N)
                       const Tensor& rstd,    // (N)
                       std::optional<LayernormGroups> groups = {});

// With xhat = (x - mean) * rstd and g = dout * weight:
//   dx += rstd * (g - mean_c(g) - xhat * mean_c(g * xhat))   (ACCUMULATES: the residual-stream
//   gradient) dweight += sum_n dout * xhat,  dbias += sum_n dout       (ACCUMULATE)
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
