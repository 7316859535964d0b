// GptConfig validation, presets and the architecture's JSON form (see config.h).
#include "engine/gpt/config.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <utility>

#include "common/error.h"

namespace alpha::gpt {

namespace {

// Each enum's names, in its order: the one table that JSON, describe() and errors use.
constexpr std::array<std::pair<Positions, const char*>, 2> kPositions{{{Positions::learned, "learned"},
                                                                       {Positions::rope, "rope"}}};
constexpr std::array<std::pair<Norm, const char*>, 2> kNorms{{{Norm::layernorm, "layernorm"},
                                                              {Norm::rmsnorm, "rmsnorm"}}};
constexpr std::array<std::pair<Mlp, const char*>, 3> kMlps{
    {{Mlp::gelu, "gelu"}, {Mlp::relu2, "relu2"}, {Mlp::swiglu, "swiglu"}}};

template <class E, size_t N>
const char* name_of(const std::array<std::pair<E, const char*>, N>& names, E value) {
  for (const auto& [e, name] : names)
    if (e == value) return name;
  return "?";
}

template <class E, size_t N>
E parse_enum(const std::array<std::pair<E, const char*>, N>& names, const std::string& text,
             const char* field) {
  std::string allowed;
  for (const auto& [e, name] : names) {
    if (text == name) return e;
    allowed += allowed.empty() ? name : fmt::format("|{}", name);
  }
  fail("model architecture: {} '{}' is not one of {}", field, text, allowed);
}

}  // namespace

int GptConfig::mlp_hidden() const {
  if (mlp != Mlp::swiglu) return 4 * n_embd;
  const int groups = (8 * n_embd + 3 * 64 - 1) / (3 * 64);  // ceil(8C / (3·64))
  return 64 * groups;
}

Mlp GptConfig::parse_mlp(std::string_view name) {
  for (const auto& [e, text] : kMlps)
    if (name == text) return e;
  fail(
      "unknown MLP '{}': use gelu (GPT-2's), relu2 (ReLU², the modern architecture's) or swiglu "
      "(gated SiLU, Llama's)",
      name);
}

bool GptConfig::is_gpt2() const {
  const GptConfig g;
  return pos == g.pos && norm == g.norm && norm_params == g.norm_params && mlp == g.mlp &&
         kv_heads() == n_head && qk_norm == g.qk_norm && tie_embeddings == g.tie_embeddings &&
         logit_softcap == g.logit_softcap && rope_theta == g.rope_theta;
}

void GptConfig::validate() const {
  auto positive = [](int value, const char* name) {
    if (value <= 0) fail("model config: {} is {}; it must be a positive integer", name, value);
  };
  positive(n_layer, "n_layer");
  positive(n_head, "n_head");
  positive(n_embd, "n_embd");
  positive(seq_len, "seq_len");
  positive(vocab_size, "vocab_size");
  if (n_embd % n_head != 0)
    fail("model config: n_embd {} is not divisible by n_head {}; pick n_embd = n_head x head size", n_embd, n_head);
  if (head_size() > kMaxHeadSize)
    fail("model config: head size n_embd/n_head = {} exceeds {}; use more heads", head_size(), kMaxHeadSize);
  if (n_kv_head < 0 || n_kv_head > n_head || n_head % kv_heads() != 0)
    fail("model config: n_kv_head {} must divide n_head {} (0: n_head)", n_kv_head, n_head);
  if (pos == Positions::rope && head_size() % 2 != 0)
    fail("model config: rotary positions need an even head size, not {}", head_size());
  if (!(rope_theta > 0)) fail("model config: rope_theta {} must be positive", rope_theta);
  if (!(logit_softcap >= 0)) fail("model config: logit_softcap {} must be 0 (off) or positive", logit_softcap);
}

std::string GptConfig::describe() const {
  std::string text = fmt::format("n_layer={} n_head={} n_embd={} seq_len={} vocab_size={}", n_layer, n_head,
                                 n_embd, seq_len, vocab_size);
  if (is_gpt2()) return text;  // GPT-2's description stays what it was
  const nlohmann::json arch = arch_json();  // a named object: items() refers into it
  for (const auto& [key, value] : arch.items())
    text += fmt::format(" {}={}", key, value.is_string() ? value.get<std::string>() : value.dump());
  return text;
}

GptConfig GptConfig::with_arch(GptConfig c, std::string_view arch) {
  if (arch == "gpt2") {
    GptConfig sizes = c;
    c = GptConfig{};
    c.n_layer = sizes.n_layer, c.n_head = sizes.n_head, c.n_embd = sizes.n_embd;
    c.seq_len = sizes.seq_len, c.vocab_size = sizes.vocab_size;
    return c;
  }
  if (arch == "modern") {
    c.pos = Positions::rope;
    c.norm = Norm::rmsnorm;
    c.norm_params = false;
    c.mlp = Mlp::relu2;
    c.n_kv_head = c.n_head % 2 == 0 ? c.n_head / 2 : 0;  // grouped-query: 2 query heads per k/v head
    c.qk_norm = true;
    c.tie_embeddings = false;
    c.logit_softcap = 15;
    c.rope_theta = 10000;
    return c;
  }
  fail("unknown architecture '{}': use gpt2 (GPT-2, the default) or modern (rotary, RMSNorm, QK-norm, ReLU², "
       "grouped-query attention, untied head, soft-capped logits)",
       arch);
}

GptConfig GptConfig::preset(std::string_view name, std::string_view arch, std::string_view mlp) {
  int depth = 0;
  if (name.size() < 2 || name[0] != 'd' ||
      std::from_chars(name.data() + 1, name.data() + name.size(), depth).ptr != name.data() + name.size() ||
      depth < 1 || depth > 48)
    fail("unknown model preset '{}': use d1 .. d48 (d2 tiny, d6 small, d12 = GPT-2 124M)", name);
  GptConfig config;
  config.n_layer = depth;
  config.n_embd = 64 * depth;
  config.n_head = depth;
  if (depth >= 12) {
    config.seq_len = 1024;
    config.vocab_size = 50257;
  }
  config = with_arch(config, arch);
  if (!mlp.empty()) config.mlp = parse_mlp(mlp);
  return config;
}

nlohmann::json GptConfig::arch_json() const {
  return {{"pos", name_of(kPositions, pos)},
          {"norm", name_of(kNorms, norm)},
          {"norm_params", norm_params},
          {"mlp", name_of(kMlps, mlp)},
          {"n_kv_head", kv_heads()},
          {"qk_norm", qk_norm},
          {"tie_embeddings", tie_embeddings},
          {"logit_softcap", logit_softcap},
          {"rope_theta", rope_theta}};
}

void GptConfig::read_arch_json(const nlohmann::json& j) {
  if (!j.is_object()) fail("model architecture: expected a JSON object, not {}", j.dump());
  try {
    for (const auto& [key, value] : j.items()) {
      if (key == "pos") pos = parse_enum(kPositions, value.get<std::string>(), "pos");
      else if (key == "norm") norm = parse_enum(kNorms, value.get<std::string>(), "norm");
      else if (key == "norm_params") norm_params = value.get<bool>();
      else if (key == "mlp") mlp = parse_enum(kMlps, value.get<std::string>(), "mlp");
      else if (key == "n_kv_head") n_kv_head = value.get<int>();
      else if (key == "qk_norm") qk_norm = value.get<bool>();
      else if (key == "tie_embeddings") tie_embeddings = value.get<bool>();
      else if (key == "logit_softcap") logit_softcap = value.get<float>();
      else if (key == "rope_theta") rope_theta = value.get<float>();
      else fail("model architecture: unknown field '{}'", key);
    }
  } catch (const nlohmann::json::exception& e) {
    fail("model architecture {}: a field has the wrong type ({})", j.dump(), e.what());
  }
  if (n_kv_head == n_head) n_kv_head = 0;  // stored as the head count; kept as "same as n_head"
}

}  // namespace alpha::gpt
