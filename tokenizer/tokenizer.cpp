// Tokenizer construction (validation, merge table) and decode. Encoding is in encode.cpp and
// the per-piece BPE merge in bpe_merge.cpp.
#include "tokenizer/tokenizer.h"

#include <thread>

#include "common/error.h"
#include "tokenizer/artifact.h"
#include "tokenizer/hash.h"

namespace alpha::tok {

Tokenizer::Tokenizer(PatternKind pattern, std::vector<std::string> tokens,
                     std::vector<bool> special, std::vector<Merge> merges)
    : pattern_(pattern),
      tokens_(std::move(tokens)),
      special_(std::move(special)),
      merges_(std::move(merges)),
      pair_ranks_(merges_.size() + 16) {
  if (tokens_.size() != special_.size())
    fail("tokenizer: special flags do not match the vocabulary");
  if (tokens_.size() >= UINT32_MAX) fail("tokenizer: vocabulary too large");
  for (auto& b : byte_token_) b = UINT32_MAX;
  for (uint32_t id = 0; id < tokens_.size(); ++id) {
    const std::string& t = tokens_[id];
    if (t.empty()) fail("tokenizer: token {} has no bytes", id);
    if (special_[id]) {
      if (!specials_.emplace(t, id).second) fail("tokenizer: special token '{}' appears twice", t);
    } else if (t.size() == 1 && byte_token_[uint8_t(t[0])] == UINT32_MAX) {
      byte_token_[uint8_t(t[0])] = id;
    }
  }
  for (int b = 0; b < 256; ++b)
    if (byte_token_[b] == UINT32_MAX) fail("tokenizer: byte 0x{:02x} has no token", b);
  const uint32_t n = uint32_t(tokens_.size());
  for (const Merge& m : merges_) {
    if (m.left >= n || m.right >= n || m.result >= n)
      fail("tokenizer: merge ({}, {}) -> {} refers to a token outside the vocabulary of {}", m.left,
           m.right, m.result, n);
    if (m.rank == UINT32_MAX)
      fail("tokenizer: merge ({}, {}) has an invalid rank", m.left, m.right);
    if (special_[m.left] || special_[m.right] || special_[m.result])
      fail("tokenizer: merge ({}, {}) involves a special token", m.left, m.right);
    if (tokens_[m.result] != tokens_[m.left] + tokens_[m.right])
      fail("tokenizer: merge ({}, {}) -> {} does not concatenate its tokens", m.left, m.right,
           m.result);
    uint64_t& v = pair_ranks_.get(pair_key(m.left, m.right), PairMap::kEmpty);
    if (v != PairMap::kEmpty) fail("tokenizer: merge ({}, {}) appears twice", m.left, m.right);
    v = (uint64_t(m.rank) << 32) | m.result;
  }
  pretokenizer_ = std::make_unique<Pretokenizer>(pattern_);
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::optional<uint32_t> Tokenizer::special_id(std::string_view text) const {
  auto it = specials_.find(std::string(text));
  if (it == specials_.end()) return std::nullopt;
  return it->second;
}

std::vector<uint32_t> Tokenizer::special_ids() const {
  std::vector<uint32_t> ids;
  for (uint32_t id = 0; id < tokens_.size(); ++id)
    if (special_[id]) ids.push_back(id);
  return ids;
}

std::string Tokenizer::decode(std::span<const uint32_t> ids) const {
  size_t total = 0;
  for (uint32_t id : ids) {
    if (id >= tokens_.size())
      fail(
          "token id {} is outside the vocabulary (size {}); was it encoded with another tokenizer?",
          id, tokens_.size());
    total += tokens_[id].size();
  }
  std::string out;
  out.reserve(total);
  for (uint32_t id : ids) out += tokens_[id];
  return out;
}

uint64_t Tokenizer::hash() const {
  return xxh64(serialize_artifact(*this));
}

unsigned resolve_threads(unsigned threads) {
  if (threads) return threads;
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? hw : 1;
}

}  // namespace alpha::tok
