// GPT model configuration: the sizes (a few numbers, with presets d1..d48: depth d -> n_layer = d,
// n_embd = 64·d, n_head = d; d12 is GPT-2 124M's shape) and the architecture (GPT-2's by default;
// the fields below switch to the pieces today's models use, e.g. nanochat's).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace alpha::gpt {

enum class Positions { learned, rope };  // a learned position table (wpe) or rotary q/k
enum class Norm { layernorm, rmsnorm };
// The MLP: c_fc, an activation, c_proj. gelu (tanh) and relu2 (max(x,0)²) act elementwise on c_fc's
// H outputs; swiglu (Llama/PaLM) is gated: c_fc gives 2H per row, gate g = columns [0, H) and up
// u = [H, 2H), and the activation is silu(g)·u with silu(x) = x·sigmoid(x).
enum class Mlp { gelu, relu2, swiglu };

struct GptConfig {
  int n_layer = 6;         // transformer blocks (L)
  int n_head = 6;          // attention heads per block (NH)
  int n_embd = 384;        // channels (C); head size HS = C / NH
  int seq_len = 256;       // maximum context (T); the position table has this many rows
  int vocab_size = 8192;   // tokens (V)

  // Architecture. The defaults are GPT-2's; old runs and checkpoints, which have no such fields,
  // are GPT-2.
  Positions pos = Positions::learned;
  Norm norm = Norm::layernorm;
  bool norm_params = true;      // the norms' weight (and LayerNorm's bias); false: parameter-free
  Mlp mlp = Mlp::gelu;
  int n_kv_head = 0;            // key/value heads, dividing n_head (< n_head: grouped-query attention); 0 = n_head
  bool qk_norm = false;         // parameter-free RMSNorm of every q and k head before attention
  bool tie_embeddings = true;   // the LM head is wte; false: its own lm_head.weight (V, C)
  float logit_softcap = 0;      // > 0: logits = cap·tanh(logits/cap)
  float rope_theta = 10000;     // rotary base (pos = rope)

  int head_size() const { return n_embd / n_head; }
  int kv_heads() const { return n_kv_head > 0 ? n_kv_head : n_head; }
  // The MLP's hidden width H (c_proj's input): 4·C for gelu and relu2; for swiglu Llama's 2/3 of
  // 4·C rounded up to a multiple of 64, H = 64·ceil(8C / (3·64)) (C = 768: 2048, C = 128: 384), so
  // that its three matrices hold about as many parameters as the other MLPs' two.
  int mlp_hidden() const;
  // c_fc's output width: H, or 2H for swiglu (gate, then up).
  int mlp_fc_width() const { return mlp == Mlp::swiglu ? 2 * mlp_hidden() : mlp_hidden(); }
  bool is_gpt2() const;  // every architecture field at GPT-2's value
  // Throws alpha::Error naming the bad field and the rule it breaks.
  void validate() const;
  std::string describe() const;

  // "d2", "d6", "d12", ...: depth d gives n_layer = d, n_embd = 64·d, n_head = d. vocab_size and
  // seq_len keep their defaults unless given (d12 defaults to GPT-2's 50257 and 1024).
  // arch: "gpt2" (the default) or "modern" (nanochat-like: rotary positions, parameter-free
  // RMSNorm, QK-norm, ReLU² MLP, untied LM head, logits soft-capped at 15, and grouped-query
  // attention with n_head/2 key/value heads where n_head is even). mlp: empty keeps the
  // architecture's MLP, else parse_mlp's name replaces it (alpha train --mlp).
  static GptConfig preset(std::string_view name, std::string_view arch = "gpt2",
                          std::string_view mlp = "");
  // The architecture fields of `arch` on top of `sizes`.
  static GptConfig with_arch(GptConfig sizes, std::string_view arch);
  // "gelu", "relu2" or "swiglu" (as alpha train --mlp and the architecture JSON spell them);
  // anything else is an alpha::Error listing those.
  static Mlp parse_mlp(std::string_view name);

  // The architecture fields as JSON ({"pos": "rope", "norm": "rmsnorm", ...}), and back: missing
  // fields keep GPT-2's values; unknown values are an alpha::Error naming the field.
  nlohmann::json arch_json() const;
  void read_arch_json(const nlohmann::json& json);
};

constexpr int kMaxHeadSize = 128;  // the attention kernels' limit

}  // namespace alpha::gpt
