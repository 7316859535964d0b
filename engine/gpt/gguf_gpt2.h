// alpha's GPT as llama.cpp's "gpt2" architecture in GGUF (gguf.h): the metadata keys (general.*,
// gpt2.*, the tokenizer as tokenizer.ggml.*) and the tensors (token_embd, position_embd, blk.N.attn_norm,
// blk.N.attn_qkv, blk.N.attn_output, blk.N.ffn_norm, blk.N.ffn_up, blk.N.ffn_down, output_norm; no
// output.weight: llama.cpp ties the head to token_embd when it is missing), named, shaped and typed as
// llama.cpp's convert_hf_to_gguf.py writes a Hugging Face GPT-2. Linear weights keep alpha's (out, in)
// row-major data, which is ggml's ne = [in, out]. Writing the file is the caller's business.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/gpt/config.h"
#include "engine/gpt/gguf.h"
#include "engine/gpt/parameters.h"

namespace alpha::tok {
class Tokenizer;
}

namespace alpha::gpt {

// A tokenizer as llama.cpp's byte-level BPE vocabulary (tokenizer.ggml.model = "gpt2").
struct GgufVocab {
  std::string pre;                   // tokenizer.ggml.pre: the pre-tokenisation regex llama.cpp applies
  std::vector<std::string> tokens;   // by id: bytes in GPT-2's byte-to-unicode form; specials verbatim
  std::vector<int32_t> token_types;  // by id: 1 normal, 3 control (special tokens)
  std::vector<std::string> merges;   // "left right" in the tokens' form, in rank order
  std::optional<uint32_t> bos, eos;  // tokenizer.ggml.bos_token_id / eos_token_id
};

// bos/eos are ids in `tokenizer` (the document separator and end-of-text) or none.
GgufVocab gguf_gpt2_vocab(const tok::Tokenizer& tokenizer, std::optional<uint32_t> bos,
                          std::optional<uint32_t> eos);

// general.architecture "gpt2", general.name, general.alignment, general.file_type (0 all F32, 1 mostly
// F16), gpt2.context_length, gpt2.embedding_length, gpt2.feed_forward_length, gpt2.block_count,
// gpt2.attention.head_count, gpt2.attention.layer_norm_epsilon, then the vocabulary. Throws
// alpha::Error if `config` is not the gpt2 architecture or the vocabulary is not vocab_size tokens.
std::vector<GgufKv> gguf_gpt2_metadata(const GptConfig& config, const std::string& name, bool f16,
                                       const GgufVocab& vocab);

// `params` is a whole parameter buffer in `layout`. With f16, the 2-D weights become F16 except
// position_embd; norms, biases and position_embd stay F32 (what llama.cpp expects, as its converter).
std::vector<GgufTensor> gguf_gpt2_tensors(const ParameterLayout& layout, std::span<const float> params,
                                          bool f16);

}  // namespace alpha::gpt
