// The merge of one piece (short array path and long heap path) against a naive reference:
// GPT-2's bpe(): find the lowest-rank adjacent pair, merge all its occurrences left to right,
// repeat. Pieces up to 400 bytes over a small alphabet exercise both paths.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "common/error.h"
#include "test_support.h"

using namespace alpha::tok;

static std::vector<uint32_t> reference_bpe(const Tokenizer& tok, std::string_view piece) {
  std::map<std::pair<uint32_t, uint32_t>, std::pair<uint32_t, uint32_t>> ranks;  // -> (rank, id)
  for (const Merge& m : tok.merges()) ranks[{m.left, m.right}] = {m.rank, m.result};
  std::vector<uint32_t> word;
  for (char c : piece) word.push_back(tok.byte_token(uint8_t(c)));
  while (word.size() > 1) {
    std::pair<uint32_t, uint32_t> best{UINT32_MAX, 0}, best_pair;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = ranks.find({word[i], word[i + 1]});
      if (it != ranks.end() && it->second.first < best.first) {
        best = it->second;
        best_pair = {word[i], word[i + 1]};
      }
    }
    if (best.first == UINT32_MAX) break;
    std::vector<uint32_t> next;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == best_pair.first && word[i + 1] == best_pair.second) {
        next.push_back(best.second);
        i += 2;
      } else {
        next.push_back(word[i++]);
      }
    }
    word = next;
  }
  return word;
}

TEST_CASE("merge_piece equals the reference BPE on short and long pieces") {
  // Train on text over a 3-letter alphabet so that long pieces have many merges to apply.
  std::mt19937_64 rng(3);
  std::string corpus;
  for (int w = 0; w < 4000; ++w) {
    corpus += ' ';
    size_t len = 1 + rng() % 12;
    for (size_t i = 0; i < len; ++i) corpus += "abc"[rng() % 3];
  }
  TrainOptions options;
  options.vocab_size = 256 + 300 + 6;
  Tokenizer tok = train_tokenizer({corpus}, options);
  int long_pieces = 0;
  for (int t = 0; t < 300; ++t) {
    size_t len = 1 + rng() % (t < 150 ? 60 : 400);
    std::string piece;
    for (size_t i = 0; i < len; ++i) piece += "abc"[rng() % 3];
    std::vector<uint32_t> ours;
    tok.merge_piece(piece, ours);
    REQUIRE(ours == reference_bpe(tok, piece));
    long_pieces += len > 64;
  }
  CHECK(long_pieces > 50);
}
