// Training: the incremental trainer learns exactly the merges of a naive trainer that recounts
// every pair before each merge (same tie rule); it is deterministic across thread counts and
// refuses a vocabulary too small for the bytes and special tokens.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "common/error.h"
#include "test_support.h"
#include "tokenizer/pretokenizer.h"

using namespace alpha::tok;

// Naive BPE training: words = distinct pieces with counts; each step recounts all pairs.
static std::vector<std::pair<uint32_t, uint32_t>> naive_merges(std::string_view text, size_t merges,
                                                               PatternKind kind) {
  Pretokenizer pre(kind);
  std::vector<uint32_t> ends;
  pre.split(text, ends);
  std::map<std::string, uint64_t> counts;
  uint32_t start = 0;
  for (uint32_t end : ends) {
    ++counts[std::string(text.substr(start, end - start))];
    start = end;
  }
  std::vector<std::pair<std::vector<uint32_t>, uint64_t>> words;
  for (auto& [piece, n] : counts) {
    std::vector<uint32_t> w;
    for (char c : piece) w.push_back(uint8_t(c));
    words.push_back({w, n});
  }
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (uint32_t id = 256; out.size() < merges; ++id) {
    std::map<std::pair<uint32_t, uint32_t>, uint64_t> pairs;
    for (auto& [w, n] : words)
      for (size_t i = 0; i + 1 < w.size(); ++i) pairs[{w[i], w[i + 1]}] += n;
    std::pair<uint32_t, uint32_t> best;
    uint64_t best_n = 0;
    for (auto& [p, n] : pairs)  // map order: the smaller pair wins ties
      if (n > best_n) best_n = n, best = p;
    if (best_n < 2) break;
    out.push_back(best);
    for (auto& [w, n] : words) {
      std::vector<uint32_t> next;
      for (size_t i = 0; i < w.size();) {
        if (i + 1 < w.size() && w[i] == best.first && w[i + 1] == best.second) {
          next.push_back(id);
          i += 2;
        } else {
          next.push_back(w[i++]);
        }
      }
      w = next;
    }
  }
  return out;
}

TEST_CASE("incremental training equals naive recounting") {
  // Repetitive text ("aaaa", "abab") stresses overlapping pairs.
  std::string text = test::synthetic_text(21, 60000) + " aaaaaaa aaaa abababab aaa ab";
  for (auto kind : {PatternKind::gpt4, PatternKind::gpt2}) {
    TrainOptions options;
    options.vocab_size = 256 + 400 + options.special_tokens.size();
    options.pattern = kind;
    Tokenizer tok = train_tokenizer({text}, options);
    auto expected = naive_merges(text, 400, kind);
    REQUIRE(tok.merges().size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("merge " << i);
      REQUIRE(tok.merges()[i].left == expected[i].first);
      REQUIRE(tok.merges()[i].right == expected[i].second);
      REQUIRE(tok.merges()[i].result == 256 + i);
    }
  }
}

TEST_CASE("training is deterministic and thread-count independent") {
  std::string a = test::synthetic_text(3, 1 << 21), b = test::synthetic_text(4, 1 << 20);
  TrainOptions options;
  options.vocab_size = 2000;
  options.threads = 1;
  uint64_t one = train_tokenizer({a, b}, options).hash();
  options.threads = 2;
  CHECK(train_tokenizer({a, b}, options).hash() == one);
  options.threads = 3;
  CHECK(train_tokenizer({a, b}, options).hash() == one);
}

TEST_CASE("vocabulary layout: bytes, merges, then specials") {
  TrainOptions options;
  options.vocab_size = 600;
  std::mt19937_64 rng(11);
  std::string text;  // random lowercase words: plenty of distinct pairs
  for (int w = 0; w < 20000; ++w) {
    text += ' ';
    for (size_t i = 0, n = 1 + rng() % 8; i < n; ++i) text += char('a' + rng() % 26);
  }
  Tokenizer tok = train_tokenizer({text}, options);
  REQUIRE(tok.vocab_size() == 600);
  for (int b = 0; b < 256; ++b) CHECK(tok.byte_token(uint8_t(b)) == uint32_t(b));
  auto specials = tok.special_ids();
  REQUIRE(specials.size() == options.special_tokens.size());
  CHECK(specials.front() == 600 - specials.size());
  CHECK(tok.special_id("<|bos|>").has_value());
  CHECK(tok.special_id("<|endoftext|>").has_value());
}

TEST_CASE("bad training requests") {
  TrainOptions options;
  options.vocab_size = 256 + options.special_tokens.size() - 1;
  CHECK_THROWS_WITH_AS(train_tokenizer({"some text"}, options),
                       doctest::Contains("smaller than 256"), alpha::Error);
  options.vocab_size = 1000;
  CHECK_THROWS_WITH_AS(train_tokenizer({""}, options), doctest::Contains("no training text"),
                       alpha::Error);
  // Exactly bytes + specials is allowed: no merges.
  options.vocab_size = 256 + options.special_tokens.size();
  CHECK(train_tokenizer({"abab abab"}, options).merges().empty());
}
