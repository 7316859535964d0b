// Parameter buffer and tokenizer -> llama.cpp gpt2 GGUF metadata and tensors (see gguf_gpt2.h).
#include "engine/gpt/gguf_gpt2.h"

#include <algorithm>
#include <unordered_map>

#include "common/error.h"
#include "engine/ops/layernorm.h"
#include "tokenizer/tokenizer.h"

namespace alpha::gpt {

namespace {

// GPT-2's bytes_to_unicode as UTF-8: printable Latin-1 bytes stand for themselves, the other 68 for
// U+0100.. in byte order (tokenizer/gpt2_files.cpp reads the same mapping back from encoder.json).
std::vector<std::string> byte_to_unicode() {
  std::vector<std::string> table(256);
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? b : next++;
    if (cp < 0x80)
      table[b] = std::string(1, char(cp));
    else  // every code point here is below U+0800: two UTF-8 bytes
      table[b] = {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
  }
  return table;
}

std::string gpt2_form(const std::string& bytes, const std::vector<std::string>& table) {
  std::string out;
  for (unsigned char c : bytes) out += table[c];
  return out;
}

// tokenizer.ggml.pre for alpha's pre-tokenisation pattern. "gpt-2" is llama.cpp's GPT-2 regex, the one
// alpha's gpt2 pattern implements. alpha's gpt4 pattern is cl100k's; llama.cpp applies that regex for
// "llama-bpe" (Llama 3), "dbrx" and "smaug-bpe". "dbrx" (DBRX's tokenizer is cl100k) is chosen because
// it selects the regex alone, while the Llama 3 names also set ignore_merges (a pre-token found whole in
// the vocabulary skips BPE, which alpha's encoder does not do) and add BOS unconditionally.
std::string llama_cpp_pre(tok::PatternKind pattern) {
  switch (pattern) {
    case tok::PatternKind::gpt2:
      return "gpt-2";
    case tok::PatternKind::gpt4:
      return "dbrx";
  }
  fail("GGUF export: the tokenizer's pre-tokenisation pattern {} has no llama.cpp equivalent",
       static_cast<uint32_t>(pattern));
}

constexpr int32_t kTokenNormal = 1, kTokenControl = 3;  // llama.cpp's token types

// One parameter, its data as stored: (out, in) row-major for a linear weight, which is ne = [in, out].
GgufTensor tensor(std::string name, const ParameterInfo& p, std::span<const float> params, bool f16) {
  const auto first = params.begin() + p.offset;
  return {std::move(name), p.shape, f16 ? GgufType::f16 : GgufType::f32,
          std::vector<float>(first, first + p.numel)};
}

}  // namespace

GgufVocab gguf_gpt2_vocab(const tok::Tokenizer& tokenizer, std::optional<uint32_t> bos,
                          std::optional<uint32_t> eos) {
  const auto table = byte_to_unicode();
  GgufVocab vocab;
  vocab.pre = llama_cpp_pre(tokenizer.pattern());
  for (uint32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    const bool special = tokenizer.is_special(id);
    // Special tokens are matched by their text (llama.cpp's special-token parsing), not byte-decoded.
    vocab.tokens.push_back(special ? tokenizer.token_bytes(id) : gpt2_form(tokenizer.token_bytes(id), table));
    vocab.token_types.push_back(special ? kTokenControl : kTokenNormal);
  }
  // llama.cpp maps each token's text to its id and aborts the load when two ids share a text.
  std::unordered_map<std::string, uint32_t> ids;
  for (uint32_t id = 0; id < vocab.tokens.size(); ++id)
    if (const auto [it, fresh] = ids.emplace(vocab.tokens[id], id); !fresh)
      fail("GGUF export: tokens {} and {} are both '{}', and llama.cpp needs every token text once",
           it->second, id, vocab.tokens[id]);
  std::vector<tok::Merge> merges = tokenizer.merges();
  std::sort(merges.begin(), merges.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });
  for (const auto& m : merges)
    vocab.merges.push_back(vocab.tokens[m.left] + " " + vocab.tokens[m.right]);
  for (auto id : {bos, eos})
    if (id && *id >= tokenizer.vocab_size())
      fail("GGUF export: token id {} is outside the tokenizer's {} tokens", *id, tokenizer.vocab_size());
  vocab.bos = bos;
  vocab.eos = eos;
  return vocab;
}

std::vector<GgufKv> gguf_gpt2_metadata(const GptConfig& config, const std::string& name, bool f16,
                                       const GgufVocab& vocab) {
  static_assert(ops::kLayernormEps == 1e-5f, "layer_norm_epsilon below is alpha's LayerNorm eps");
  if (!config.is_gpt2())
    fail("GGUF export supports the gpt2 architecture only for now; this model is {}", config.describe());
  if (vocab.tokens.size() != static_cast<size_t>(config.vocab_size))
    fail("GGUF export: the tokenizer has {} tokens, the model {}: another tokenizer", vocab.tokens.size(),
         config.vocab_size);
  auto u32 = [](int v) { return static_cast<uint32_t>(v); };
  std::vector<GgufKv> kv = {
      {"general.architecture", std::string("gpt2")},
      {"general.name", name},
      {"general.alignment", kGgufAlignment},
      {"general.file_type", uint32_t{f16 ? 1u : 0u}},  // llama_ftype: ALL_F32, MOSTLY_F16
      {"gpt2.context_length", u32(config.seq_len)},
      {"gpt2.embedding_length", u32(config.n_embd)},
      {"gpt2.feed_forward_length", u32(config.mlp_hidden())},
      {"gpt2.block_count", u32(config.n_layer)},
      {"gpt2.attention.head_count", u32(config.n_head)},
      {"gpt2.attention.layer_norm_epsilon", 1e-5f},
      {"tokenizer.ggml.model", std::string("gpt2")},
      {"tokenizer.ggml.pre", vocab.pre},
      {"tokenizer.ggml.tokens", vocab.tokens},
      {"tokenizer.ggml.token_type", vocab.token_types},
      {"tokenizer.ggml.merges", vocab.merges}};
  if (vocab.bos) {
    kv.push_back({"tokenizer.ggml.bos_token_id", *vocab.bos});
    // alpha's training documents each start with the separator (bos): llama.cpp should prepend it too.
    kv.push_back({"tokenizer.ggml.add_bos_token", true});
  }
  if (vocab.eos) kv.push_back({"tokenizer.ggml.eos_token_id", *vocab.eos});
  return kv;
}

std::vector<GgufTensor> gguf_gpt2_tensors(const ParameterLayout& layout, std::span<const float> params,
                                          bool f16) {
  if (layout.wpe == kAbsent || layout.lnf_b == kAbsent || layout.lm_head != layout.wte)
    fail("GGUF export supports the gpt2 architecture only for now (learned positions, LayerNorm with weights "
         "and biases, tied head); this model is another one");
  if (static_cast<int64_t>(params.size()) != layout.total_floats)
    fail("the parameter buffer holds {} floats, the model's layout {}: another model config",
         params.size(), layout.total_floats);
  const auto& P = layout.params;
  std::vector<GgufTensor> tensors;  // in the order convert_hf_to_gguf.py writes GPT-2's
  tensors.push_back(tensor("token_embd.weight", P[layout.wte], params, f16));
  tensors.push_back(tensor("position_embd.weight", P[layout.wpe], params, false));  // F32 always
  for (size_t l = 0; l < layout.blocks.size(); ++l) {
    const auto& b = layout.blocks[l];
    const std::string blk = "blk." + std::to_string(l) + ".";
    tensors.push_back(tensor(blk + "attn_norm.weight", P[b.ln1_w], params, false));
    tensors.push_back(tensor(blk + "attn_norm.bias", P[b.ln1_b], params, false));
    tensors.push_back(tensor(blk + "attn_qkv.weight", P[b.qkv_w], params, f16));  // (3C, C)
    tensors.push_back(tensor(blk + "attn_qkv.bias", P[b.qkv_b], params, false));
    tensors.push_back(tensor(blk + "attn_output.weight", P[b.attn_proj_w], params, f16));  // (C, C)
    tensors.push_back(tensor(blk + "attn_output.bias", P[b.attn_proj_b], params, false));
    tensors.push_back(tensor(blk + "ffn_norm.weight", P[b.ln2_w], params, false));
    tensors.push_back(tensor(blk + "ffn_norm.bias", P[b.ln2_b], params, false));
    tensors.push_back(tensor(blk + "ffn_up.weight", P[b.fc_w], params, f16));  // (4C, C)
    tensors.push_back(tensor(blk + "ffn_up.bias", P[b.fc_b], params, false));
    tensors.push_back(tensor(blk + "ffn_down.weight", P[b.fc_proj_w], params, f16));  // (C, 4C)
    tensors.push_back(tensor(blk + "ffn_down.bias", P[b.fc_proj_b], params, false));
  }
  tensors.push_back(tensor("output_norm.weight", P[layout.lnf_w], params, false));
  tensors.push_back(tensor("output_norm.bias", P[layout.lnf_b], params, false));
  return tensors;
}

}  // namespace alpha::gpt
