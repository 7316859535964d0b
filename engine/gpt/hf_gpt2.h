// alpha's GPT in Hugging Face transformers' GPT-2 conventions, for export: the state_dict tensors
// of GPT2Model (wte.weight, wpe.weight, h.N.ln_1.weight, h.N.attn.c_attn.weight, ..., ln_f.bias; no
// "transformer." prefix and no lm_head, which is tied to wte — the layout of OpenAI's GPT-2 on the
// Hugging Face hub, which GPT2LMHeadModel.from_pretrained loads) and the matching config.json.
// GPT-2's linear layers are Conv1D modules whose weight is (in, out): alpha's (out, in) matrices
// are transposed on the way out. Which file the tensors go to is the caller's business.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
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

}  // namespace alpha::gpt
