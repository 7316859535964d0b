// Parameter buffer -> Hugging Face GPT-2 tensors and config (see hf_gpt2.h).
#include "engine/gpt/hf_gpt2.h"

#include "common/error.h"
#include "engine/ops/layernorm.h"

namespace alpha::gpt {

namespace {

// One parameter as it is stored in the buffer.
SafetensorsTensor copy_of(const ParameterInfo& p, std::span<const float> params) {
  const auto first = params.begin() + p.offset;
  return {p.name, p.shape, std::vector<float>(first, first + p.numel)};
}

// A linear weight (out, in) as Conv1D's (in, out).
SafetensorsTensor transposed(const ParameterInfo& p, std::span<const float> params) {
  const int64_t out = p.shape.at(0), in = p.shape.at(1);
  SafetensorsTensor t{p.name, {in, out}, std::vector<float>(p.numel)};
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) t.data[i * out + o] = params[p.offset + o * in + i];
  return t;
}

}  // namespace

std::vector<SafetensorsTensor> hf_gpt2_tensors(const ParameterLayout& layout,
                                               std::span<const float> params) {
  if (layout.wpe == kAbsent || layout.lnf_b == kAbsent || layout.lm_head != layout.wte)
    fail("Hugging Face GPT-2 export needs the gpt2 architecture (learned positions, LayerNorm with weights "
         "and biases, tied head); this model is another one");
  if (static_cast<int64_t>(params.size()) != layout.total_floats)
    fail("the parameter buffer holds {} floats, the model's layout {}: another model config",
         params.size(), layout.total_floats);
  const auto& P = layout.params;
  std::vector<SafetensorsTensor> tensors;  // in GPT2Model's state_dict order
  tensors.push_back(copy_of(P[layout.wte], params));
  tensors.push_back(copy_of(P[layout.wpe], params));
  for (const auto& b : layout.blocks) {
    tensors.push_back(copy_of(P[b.ln1_w], params));
    tensors.push_back(copy_of(P[b.ln1_b], params));
    tensors.push_back(transposed(P[b.qkv_w], params));
    tensors.push_back(copy_of(P[b.qkv_b], params));
    tensors.push_back(transposed(P[b.attn_proj_w], params));
    tensors.push_back(copy_of(P[b.attn_proj_b], params));
    tensors.push_back(copy_of(P[b.ln2_w], params));
    tensors.push_back(copy_of(P[b.ln2_b], params));
    tensors.push_back(transposed(P[b.fc_w], params));
    tensors.push_back(copy_of(P[b.fc_b], params));
    tensors.push_back(transposed(P[b.fc_proj_w], params));
    tensors.push_back(copy_of(P[b.fc_proj_b], params));
  }
  tensors.push_back(copy_of(P[layout.lnf_w], params));
  tensors.push_back(copy_of(P[layout.lnf_b], params));
  return tensors;
}

nlohmann::json hf_gpt2_config(const GptConfig& config, std::optional<uint32_t> bos_token_id,
                              std::optional<uint32_t> eos_token_id) {
  static_assert(ops::kLayernormEps == 1e-5f, "layer_norm_epsilon below is alpha's LayerNorm eps");
  auto id_or_null = [](std::optional<uint32_t> id) {
    return id ? nlohmann::json(*id) : nlohmann::json(nullptr);
  };
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"vocab_size", config.vocab_size},
          {"n_positions", config.seq_len},
          {"n_ctx", config.seq_len},
          {"n_embd", config.n_embd},
          {"n_layer", config.n_layer},
          {"n_head", config.n_head},
          {"n_inner", nullptr},  // 4 * n_embd
          {"activation_function", "gelu_new"},
          {"layer_norm_epsilon", 1e-5},
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attn_pdrop", 0.0},
          {"initializer_range", 0.02},
          {"scale_attn_weights", true},
          {"use_cache", true},
          {"bos_token_id", id_or_null(bos_token_id)},
          {"eos_token_id", id_or_null(eos_token_id)},
          {"tie_word_embeddings", true},
          {"torch_dtype", "float32"}};
}

}  // namespace alpha::gpt
