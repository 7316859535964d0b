// Tokenizer: a byte-level BPE vocabulary (token bytes, merge table, special tokens, the
// pre-tokenisation pattern) with encode and decode. Loading, saving and training live in
// their own files (artifact.h, gpt2_files.h, tiktoken_file.h, trainer.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pair_map.h"
#include "tokenizer/pretokenizer.h"

namespace alpha::tok {

// One merge rule: adjacent tokens (left, right) become `result`; lower rank merges first.
struct Merge {
  uint32_t left, right, result, rank;
};

struct EncodeOptions {
  unsigned threads = 0;        // 0: all hardware threads
  bool allow_special = false;  // turn special-token text like "<|bos|>" into its id
};

class EncodeSession;

class Tokenizer {
 public:
  // Validates everything (throws alpha::Error saying what is inconsistent): every byte has a
  // single-byte token, merges refer to existing tokens and concatenate their bytes.
  Tokenizer(PatternKind pattern, std::vector<std::string> tokens, std::vector<bool> special,
            std::vector<Merge> merges);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  PatternKind pattern() const { return pattern_; }
  size_t vocab_size() const { return tokens_.size(); }
  const std::string& token_bytes(uint32_t id) const { return tokens_[id]; }
  bool is_special(uint32_t id) const { return special_[id]; }
  std::optional<uint32_t> special_id(std::string_view text) const;
  std::vector<uint32_t> special_ids() const;
  const std::vector<Merge>& merges() const { return merges_; }
  uint32_t byte_token(uint8_t byte) const { return byte_token_[byte]; }

  // Encodes any bytes (valid UTF-8 or not); decode(encode(x)) == x always.
  std::vector<uint32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Encodes many documents into one stream, each preceded by `separator` (a token id).
  std::vector<uint32_t> encode_documents(const std::vector<std::string_view>& docs,
                                         uint32_t separator, unsigned threads = 0) const;
  // Throws alpha::Error on an id outside the vocabulary.
  std::string decode(std::span<const uint32_t> ids) const;

  // XXH64 of the artifact serialisation: identifies the tokenizer in cache keys.
  uint64_t hash() const;

  // BPE of one pre-token (no cache): appends its ids to `out`.
  void merge_piece(std::string_view piece, std::vector<uint32_t>& out) const;

 private:
  friend class EncodeSession;
  void encode_ordinary(std::string_view text, unsigned threads, std::vector<uint32_t>& out) const;

  PatternKind pattern_;
  std::vector<std::string> tokens_;
  std::vector<bool> special_;
  std::vector<Merge> merges_;
  PairMap pair_ranks_;  // pair -> (rank << 32 | result)
  uint32_t byte_token_[256];
  std::unordered_map<std::string, uint32_t> specials_;
  std::unique_ptr<Pretokenizer> pretokenizer_;
};

unsigned resolve_threads(unsigned threads);

}  // namespace alpha::tok
