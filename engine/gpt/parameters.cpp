// The parameter size table (see parameters.h).
#include "engine/gpt/parameters.h"

#include <fmt/format.h>

#include "common/error.h"

namespace alpha::gpt {

ParameterLayout::ParameterLayout(const GptConfig& config) {
  const int64_t C = config.n_embd, V = config.vocab_size, T = config.seq_len;
  const int64_t Q = (config.n_head + 2 * config.kv_heads()) * config.head_size();  // q, k, v widths
  // the MLP's hidden width and c_fc's output width
  const int64_t H = config.mlp_hidden(), F = config.mlp_fc_width();
  int64_t offset = 0;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool decay) {
    ParameterInfo p{std::move(name), std::move(shape), offset, 1, decay};
    for (int64_t d : p.shape) p.numel *= d;
    offset += (p.numel + kParameterAlignment - 1) / kParameterAlignment * kParameterAlignment;
    params.push_back(std::move(p));
    return static_cast<int>(params.size() - 1);
  };
  blocks.resize(config.n_layer);
  const bool norm_weight = config.norm_params, norm_bias = config.norm_params && config.norm == Norm::layernorm;
  // weight-decayed: embeddings and matrices
  wte = add("wte.weight", {V, C}, true);
  if (config.pos == Positions::learned) wpe = add("wpe.weight", {T, C}, true);
  lm_head = config.tie_embeddings ? wte : add("lm_head.weight", {V, C}, true);
  for (int l = 0; l < config.n_layer; ++l) {
    auto& b = blocks[l];
    std::string h = fmt::format("h.{}.", l);
    b.qkv_w = add(h + "attn.c_attn.weight", {Q, C}, true);
    b.attn_proj_w = add(h + "attn.c_proj.weight", {C, C}, true);
    b.fc_w = add(h + "mlp.c_fc.weight", {F, C}, true);  // swiglu: rows [0, H) gate, [H, 2H) up
    b.fc_proj_w = add(h + "mlp.c_proj.weight", {C, H}, true);
  }
  decay_floats = offset;
  // no decay: LayerNorms and biases
  for (int l = 0; l < config.n_layer; ++l) {
    auto& b = blocks[l];
    std::string h = fmt::format("h.{}.", l);
    b.ln1_w = norm_weight ? add(h + "ln_1.weight", {C}, false) : kAbsent;
    b.ln1_b = norm_bias ? add(h + "ln_1.bias", {C}, false) : kAbsent;
    b.qkv_b = add(h + "attn.c_attn.bias", {Q}, false);
    b.attn_proj_b = add(h + "attn.c_proj.bias", {C}, false);
    b.ln2_w = norm_weight ? add(h + "ln_2.weight", {C}, false) : kAbsent;
    b.ln2_b = norm_bias ? add(h + "ln_2.bias", {C}, false) : kAbsent;
    b.fc_b = add(h + "mlp.c_fc.bias", {F}, false);
    b.fc_proj_b = add(h + "mlp.c_proj.bias", {C}, false);
  }
  if (norm_weight) lnf_w = add("ln_f.weight", {C}, false);
  if (norm_bias) lnf_b = add("ln_f.bias", {C}, false);
  total_floats = offset;
}

int64_t ParameterLayout::count() const {
  int64_t n = 0;
  for (const auto& p : params) n += p.numel;
  return n;
}

const ParameterInfo& ParameterLayout::find(const std::string& name) const {
  for (const auto& p : params)
    if (p.name == name) return p;
  fail("the model has no parameter named '{}'", name);
}

}  // namespace alpha::gpt
