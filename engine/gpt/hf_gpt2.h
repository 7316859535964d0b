// alpha's GPT in Hugging Face transformers' GPT-2 conventions, both ways: the state_dict tensors of
// GPT2Model (wte.weight, wpe.weight, h.N.ln_1.weight, h.N.attn.c_attn.weight, ..., ln_f.bias; no
// "transformer." prefix and no lm_head, which is tied to wte — the layout of OpenAI's GPT-2 on the
// Hugging Face hub, which GPT2LMHeadModel.from_pretrained loads) and the matching config.json, for
// export; and a GPT-2's config.json and safetensors tensors back into alpha's parameter buffer, for
// import. GPT-2's linear layers are Conv1D modules whose weight is (in, out): alpha's (out, in)
// matrices are transposed on the way out and back on the way in. Which files hold the tensors and
// the config is the caller's business.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/gpt/parameters.h"
#include "engine/gpt/safetensors.h"

namespace alpha::gpt {

// `params` is a whole parameter buffer in `layout` (layout.total_floats floats).
std::vector<SafetensorsTensor> hf_gpt2_tensors(const ParameterLayout& layout,
                                               std::span<const float> params);

// GPT2Config as config.json: sizes, gelu_new (GELU's tanh approximation, alpha's), LayerNorm eps,
// no dropout, tied embeddings. bos/eos are the tokenizer's document-separator and end-of-text ids.
nlohmann::json hf_gpt2_config(const GptConfig& config, std::optional<uint32_t> bos_token_id,
                              std::optional<uint32_t> eos_token_id);

// A GPT2Config (config.json; `where` names it in errors) as alpha's gpt2 architecture: n_embd,
// n_layer, n_head, vocab_size and n_positions (or n_ctx) give the sizes; tie_word_embeddings
// (default true) the head. Refused, each with a one-line alpha::Error: a model_type other than
// gpt2, an activation_function other than GELU's tanh form (gelu_new, gelu_pytorch_tanh; the
// default is gelu_new), a layer_norm_epsilon other than alpha's 1e-5, an n_inner other than null or
// 4·n_embd, unscaled or layer-scaled attention, cross-attention, and sizes alpha cannot run.
GptConfig gpt2_config_from_hf(const nlohmann::json& config, const std::string& where);

struct HfGpt2Parameters {
  GptConfig config;                   // the one asked for, seq_len possibly shortened
  std::vector<float> params;          // the whole buffer in ParameterLayout(config)
  std::vector<std::string> ignored;   // attention-mask buffers in the file, not parameters
  std::map<std::string, int> dtypes;  // the file's dtype -> tensors read in it
};

// The tensors of a GPT2Model or GPT2LMHeadModel state_dict in `file` (names with or without the
// "transformer." prefix) as alpha's parameters of `config` (from gpt2_config_from_hf). The
// h.N.attn.bias and h.N.attn.masked_bias buffers are skipped. lm_head.weight: with
// config.tie_embeddings it may be present but must equal wte.weight; without, it is required (an
// untied head). Every missing, unexpected or wrongly shaped tensor is named in one alpha::Error.
// seq_len > 0 keeps the first seq_len rows of wpe (at most config.seq_len): a shorter context.
HfGpt2Parameters hf_gpt2_parameters(const SafetensorsFile& file, const GptConfig& config,
                                    int seq_len = 0);

}  // namespace alpha::gpt
