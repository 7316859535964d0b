// Where every GPT parameter lives in the one parameter buffer: a size table computed from the
// config. Gradients and AdamW m/v use the same layout in their own buffers. Matrices and embeddings
// (weight decay) come first, then LayerNorm parameters and biases (no decay), so AdamW is two
// dispatches. Names follow GPT-2's checkpoints (wte, wpe, h.N.ln_1.weight, h.N.attn.c_attn.weight,
// ...), with linear weights stored (out, in) like torch.nn.Linear. The architecture decides which
// exist: no wpe with rotary positions, no norm weights when the norms are parameter-free, no norm
// biases with RMSNorm, and an lm_head.weight (V, C) when the head is untied. Absent ones have index
// -1. The MLP is c_fc (F, C) and c_proj (C, H) with H = GptConfig::mlp_hidden(): F = H, or for
// swiglu F = 2H, the gate's rows first and then the up projection's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/gpt/config.h"

namespace alpha::gpt {

struct ParameterInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t offset = 0;  // in floats from the start of the buffer; aligned to kParameterAlignment
  int64_t numel = 0;
  bool decay = false;
};

constexpr int64_t kParameterAlignment = 64;  // floats (256 bytes): any device's storage-buffer offset alignment

constexpr int kAbsent = -1;

// Indices into ParameterLayout::params for one block (ln*_w/ln*_b may be kAbsent).
struct BlockParameters {
  int ln1_w, ln1_b, qkv_w, qkv_b, attn_proj_w, attn_proj_b, ln2_w, ln2_b, fc_w, fc_b, fc_proj_w, fc_proj_b;
};

struct ParameterLayout {
  std::vector<ParameterInfo> params;
  std::vector<BlockParameters> blocks;
  int wte = 0, wpe = kAbsent, lnf_w = kAbsent, lnf_b = kAbsent;
  int lm_head = 0;  // the LM head's weight: wte when tied
  int64_t decay_floats = 0;  // [0, decay_floats) has weight decay
  int64_t total_floats = 0;  // including alignment padding
  int64_t count() const;     // parameters, without padding

  explicit ParameterLayout(const GptConfig& config);
  const ParameterInfo& find(const std::string& name) const;
};

}  // namespace alpha::gpt
