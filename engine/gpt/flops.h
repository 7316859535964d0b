// Training FLOPs of a GPT step and model FLOPs utilization (MFU), counted the PaLM/nanoGPT way.
// The arithmetic is pure and lives here; measuring the peak (the bench's best matmul, or the trainer's
// quick probe) is the caller's.
#pragma once

#include <cstdint>

#include "engine/gpt/config.h"

namespace alpha::gpt {

// Training FLOPs per token (forward + backward), PaLM appendix B / nanoGPT's estimate_mfu:
//   6·N + 12·L·H·Q·T
// 6·N: each parameter does one multiply-add (2 FLOPs) forward and two backward (input and weight
// gradients). N counts every parameter that is used in a matmul per token: nanoGPT's N, i.e. all
// parameters minus the position table (a lookup; the token table counts because it is the tied LM
// head). 12·L·H·Q·T: attention's QK^T and AV matmuls (2·2·T·Q per head and token forward, ×3 with
// backward), over L layers and H heads of size Q, with the full context T (causal masking not
// subtracted, as in the convention). LayerNorm, the MLP activation (GELU, ReLU², SwiGLU), softmax
// and AdamW are not counted; the MLP's matrices are in N whatever their widths
// (GptConfig::mlp_hidden).
constexpr double train_flops_per_token(int64_t n_params, int n_layer, int n_head, int head_size, int seq_len) {
  return 6.0 * double(n_params) + 12.0 * n_layer * n_head * double(head_size) * seq_len;
}

// Model FLOPs utilization: achieved FLOP/s over peak FLOP/s (same units); 0 when the peak is unknown.
constexpr double mfu(double achieved_flops_per_s, double peak_flops_per_s) {
  return peak_flops_per_s > 0 ? achieved_flops_per_s / peak_flops_per_s : 0.0;
}

// N as above for a config: ParameterLayout(config).count() minus the position table (seq_len·C),
// and minus wte when the LM head is untied (then wte is only a lookup and lm_head the matmul).
int64_t flops_parameter_count(const GptConfig& config);
// train_flops_per_token for a config at sequence length `seq` (the T actually trained).
double train_flops_per_token(const GptConfig& config, int seq);

}  // namespace alpha::gpt
