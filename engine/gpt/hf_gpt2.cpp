// Parameter buffer <-> Hugging Face GPT-2 tensors and config (see hf_gpt2.h).
#include "engine/gpt/hf_gpt2.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>

#include "common/error.h"
#include "engine/ops/layernorm.h"

namespace alpha::gpt {

namespace {

// A parameter in GPT2Model's state_dict order; Conv1D weights are (in, out) there.
struct HfSlot {
  int param;
  bool conv1d;
};

// Every parameter of a gpt2-architecture layout in state_dict order, then an untied lm_head.weight
// as GPT2LMHeadModel holds it (nn.Linear's (V, C), like alpha's).
std::vector<HfSlot> hf_gpt2_slots(const ParameterLayout& layout) {
  if (layout.wpe == kAbsent || layout.lnf_b == kAbsent)
    fail(
        "Hugging Face GPT-2 needs the gpt2 architecture (learned positions, LayerNorm with weights "
        "and biases); this model is another one");
  std::vector<HfSlot> slots = {{layout.wte, false}, {layout.wpe, false}};
  for (const auto& b : layout.blocks)
    for (const int p : {b.ln1_w, b.ln1_b, b.qkv_w, b.qkv_b, b.attn_proj_w, b.attn_proj_b, b.ln2_w,
                        b.ln2_b, b.fc_w, b.fc_b, b.fc_proj_w, b.fc_proj_b})
      slots.push_back({p, layout.params[p].shape.size() == 2});  // a block's matrices: Conv1D
  slots.push_back({layout.lnf_w, false});
  slots.push_back({layout.lnf_b, false});
  if (layout.lm_head != layout.wte) slots.push_back({layout.lm_head, false});
  return slots;
}

// dst (cols, rows) = src (rows, cols) transposed.
void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
}

// A parameter's shape in the file: Conv1D weights (in, out).
std::vector<int64_t> file_shape(const ParameterInfo& p, bool conv1d) {
  return conv1d ? std::vector<int64_t>{p.shape[1], p.shape[0]} : p.shape;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return nlohmann::json(shape).dump();
}

// h.N.attn.bias and h.N.attn.masked_bias: GPT-2's causal-mask buffers, which older transformers
// versions saved with the weights.
bool is_mask_buffer(const std::string& name) {
  if (!name.starts_with("h.")) return false;
  const size_t digits = name.find_first_not_of("0123456789", 2);
  if (digits == 2 || digits == std::string::npos) return false;
  const std::string rest = name.substr(digits);
  return rest == ".attn.bias" || rest == ".attn.masked_bias";
}

// "a, b, c" of at most 12 names, then how many more.
std::string name_list(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < 12; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > 12) text += fmt::format(" and {} more", names.size() - 12);
  return text;
}

}  // namespace

std::vector<SafetensorsTensor> hf_gpt2_tensors(const ParameterLayout& layout,
                                               std::span<const float> params) {
  if (layout.lm_head != layout.wte)
    fail(
        "Hugging Face GPT-2 export needs the gpt2 architecture (learned positions, LayerNorm with "
        "weights and biases, tied head); this model is another one");
  const auto slots = hf_gpt2_slots(layout);
  if (static_cast<int64_t>(params.size()) != layout.total_floats)
    fail("the parameter buffer holds {} floats, the model's layout {}: another model config",
         params.size(), layout.total_floats);
  std::vector<SafetensorsTensor> tensors;  // in GPT2Model's state_dict order
  for (const auto [index, conv1d] : slots) {
    const ParameterInfo& p = layout.params[index];
    SafetensorsTensor t{p.name, file_shape(p, conv1d), std::vector<float>(p.numel)};
    const float* first = params.data() + p.offset;
    if (conv1d)
      transpose(first, p.shape[0], p.shape[1], t.data.data());
    else
      std::copy(first, first + p.numel, t.data.begin());
    tensors.push_back(std::move(t));
  }
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

GptConfig gpt2_config_from_hf(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) fail("{}: not a JSON object", where);
  auto size = [&](const char* key) {
    const auto& value = j.at(key);
    if (!value.is_number_integer() || value.get<int64_t>() <= 0 || value.get<int64_t>() > INT_MAX)
      fail("{}: {} is {}, not a positive integer", where, key, value.dump());
    return value.get<int>();
  };
  auto flag = [&](const char* key, bool fallback) {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_boolean()) fail("{}: {} is {}, not true or false", where, key, j[key].dump());
    return j[key].get<bool>();
  };
  if (j.contains("model_type") && j["model_type"] != "gpt2")
    fail("{}: model_type {} is not gpt2; alpha imports GPT-2 models only", where,
         j["model_type"].dump());
  for (const char* key : {"n_embd", "n_layer", "n_head", "vocab_size"})
    if (!j.contains(key)) fail("{}: {} is missing; is it a GPT-2 config?", where, key);
  if (!j.contains("n_positions") && !j.contains("n_ctx"))
    fail("{}: n_positions (or n_ctx) is missing; is it a GPT-2 config?", where);
  GptConfig config;  // the gpt2 architecture
  config.n_embd = size("n_embd"), config.n_layer = size("n_layer"), config.n_head = size("n_head");
  config.vocab_size = size("vocab_size");
  config.seq_len = size(j.contains("n_positions") ? "n_positions" : "n_ctx");

  const auto activation = j.value("activation_function", nlohmann::json("gelu_new"));
  if (activation != "gelu_new" && activation != "gelu_pytorch_tanh")
    fail(
        "{}: activation_function {} is not alpha's GELU, the tanh approximation (gelu_new or "
        "gelu_pytorch_tanh)",
        where, activation.dump());
  static_assert(ops::kLayernormEps == 1e-5f, "the message below names alpha's LayerNorm eps");
  const auto eps = j.value("layer_norm_epsilon", nlohmann::json(1e-5));
  if (!eps.is_number() || static_cast<float>(eps.get<double>()) != ops::kLayernormEps)
    fail(
        "{}: layer_norm_epsilon {} is not alpha's LayerNorm epsilon 1e-5; the model's outputs "
        "would differ",
        where, eps.dump());
  if (j.contains("n_inner") && !j["n_inner"].is_null() &&
      !(j["n_inner"].is_number_integer() &&
        j["n_inner"].get<int64_t>() == 4 * int64_t(config.n_embd)))
    fail("{}: n_inner {} is not 4·n_embd = {}, the only MLP width alpha has", where,
         j["n_inner"].dump(), 4 * int64_t(config.n_embd));
  if (!flag("scale_attn_weights", true))
    fail("{}: scale_attn_weights is false; alpha's attention always scales by 1/sqrt(head size)",
         where);
  if (flag("scale_attn_by_inverse_layer_idx", false))
    fail("{}: scale_attn_by_inverse_layer_idx is true; alpha's attention has no such scaling",
         where);
  if (flag("add_cross_attention", false))
    fail("{}: add_cross_attention is true; alpha's GPT-2 has no cross-attention", where);
  config.tie_embeddings = flag("tie_word_embeddings", true);
  try {
    config.validate();
  } catch (const Error& e) {
    fail("{}: {}", where, e.what());
  }
  return config;
}

HfGpt2Parameters hf_gpt2_parameters(const SafetensorsFile& file, const GptConfig& config,
                                    int seq_len) {
  const std::string& f = file.name();
  if (seq_len < 0 || seq_len > config.seq_len)
    fail("the context length {} is not between 1 and the model's n_positions {}", seq_len,
         config.seq_len);
  const ParameterLayout layout(config);  // the file's shapes: all n_positions rows of wpe
  const auto slots = hf_gpt2_slots(layout);
  std::map<std::string, std::pair<HfSlot, const SafetensorsEntry*>> expected;
  for (const auto slot : slots) expected[layout.params[slot.param].name] = {slot, nullptr};

  HfGpt2Parameters out;
  const SafetensorsEntry* tied_head = nullptr;  // lm_head.weight beside a tied wte
  std::vector<std::string> unexpected, twice, wrong_shape, missing;
  for (const auto& entry : file.tensors()) {
    std::string name = entry.name;
    if (name.starts_with("transformer.")) name = name.substr(std::strlen("transformer."));
    if (is_mask_buffer(name)) {
      out.ignored.push_back(entry.name);
      continue;
    }
    const bool head = name == "lm_head.weight" && config.tie_embeddings;
    auto it = expected.find(head ? "wte.weight" : name);
    if (it == expected.end()) {
      unexpected.push_back(entry.name);
      continue;
    }
    const auto& [slot, found] = it->second;
    const auto want = file_shape(layout.params[slot.param], slot.conv1d);
    if (entry.shape != want)
      wrong_shape.push_back(
          fmt::format("{} is {}, not {}", entry.name, shape_text(entry.shape), shape_text(want)));
    if (head)
      tied_head = &entry;
    else if (found)
      twice.push_back(name);
    else
      it->second.second = &entry;
  }
  for (const auto& [name, value] : expected)
    if (!value.second) missing.push_back(name);
  std::string problems;
  auto add = [&](const char* what, const std::vector<std::string>& names) {
    if (!names.empty())
      problems += fmt::format("{}{}: {}", problems.empty() ? "" : "; ", what, name_list(names));
  };
  add("missing", missing);
  add("unexpected", unexpected);
  add("wrong shape", wrong_shape);
  add("present with and without the transformer. prefix", twice);
  if (!problems.empty())
    fail("{}: not the tensors of config.json's GPT-2 ({}{}): {}", f, config.describe(),
         config.tie_embeddings ? "" : ", untied lm_head", problems);

  // Every tensor is there and shaped right: fill the buffer of the (possibly shorter) model.
  out.config = config;
  if (seq_len > 0) out.config.seq_len = seq_len;
  const ParameterLayout target(out.config);
  out.params.assign(target.total_floats, 0.0f);
  const auto target_slots = hf_gpt2_slots(target);
  for (size_t i = 0; i < target_slots.size(); ++i) {
    const auto [index, conv1d] = target_slots[i];
    const ParameterInfo& p = target.params[index];
    const SafetensorsEntry& entry = *expected.at(p.name).second;
    const auto values = file.floats(entry);
    ++out.dtypes[entry.dtype];
    float* dst = out.params.data() + p.offset;
    if (conv1d)
      transpose(values.data(), p.shape[1], p.shape[0], dst);
    else
      std::copy(values.begin(), values.begin() + p.numel, dst);  // wpe: its first rows
  }
  if (tied_head) {
    const auto head = file.floats(*tied_head), wte = file.floats(*expected.at("wte.weight").second);
    if (std::memcmp(head.data(), wte.data(), head.size() * sizeof(float)) != 0)
      fail(
          "{}: {} differs from wte.weight, but config.json ties them (tie_word_embeddings is true "
          "or absent); set tie_word_embeddings to false to import the separate head",
          f, tied_head->name);
  }
  return out;
}

}  // namespace alpha::gpt
