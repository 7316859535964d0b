// decode(encode(x)) == x for random bytes, invalid UTF-8 and the sample corpus; threaded
// encoding equals single-threaded; special tokens only when allowed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "test_support.h"
#include "tokenizer/file_io.h"
#include "tokenizer/load.h"

using namespace alpha::tok;

static void check_roundtrip(const Tokenizer& tok, std::string_view text, unsigned threads = 0) {
  auto ids = tok.encode(text, {threads, false});
  for (uint32_t id : ids) REQUIRE(!tok.is_special(id));
  REQUIRE(tok.decode(ids) == text);
}

TEST_CASE("round trip: random bytes") {
  for (auto kind : {PatternKind::gpt2, PatternKind::gpt4}) {
    const Tokenizer& tok = test::small_tokenizer(kind);
    for (uint64_t seed = 0; seed < 50; ++seed)
      check_roundtrip(tok, test::random_bytes(seed, seed * 37));
    check_roundtrip(tok, test::random_bytes(99, 1 << 20), 2);  // big enough to run threaded
  }
}

TEST_CASE("round trip: invalid UTF-8") {
  const char* cases[] = {"\x80",
                         "\xbf\xbf",
                         "\xc0\xaf",
                         "\xe0\x80\xaf",  // overlong
                         "\xed\xa0\x80",
                         "\xed\xbf\xbf",
                         "\xf4\x90\x80\x80",  // surrogate, > U+10FFFF
                         "\xff\xfe\xfd",
                         "abc\xe6\x97",
                         "\xf0\x9f\x98",
                         "x\xc3",  // truncated
                         "caf\xe9 latin-1",
                         "\x00\x01\x02 nul",
                         "ok \xf0\x9f\x98\x80 \x80 ok"};
  for (auto kind : {PatternKind::gpt2, PatternKind::gpt4}) {
    const Tokenizer& tok = test::small_tokenizer(kind);
    for (const char* c : cases) {
      std::string s(c, std::char_traits<char>::length(c) + (c[0] == 0 ? 1 : 0));
      check_roundtrip(tok, s);
      check_roundtrip(tok, "prefix " + s + " suffix\n");
    }
    check_roundtrip(tok, std::string("\0\0\0", 3));
  }
}

TEST_CASE("threaded encoding equals one thread") {
  const Tokenizer& tok = test::small_tokenizer(PatternKind::gpt4);
  std::string text = test::synthetic_text(5, 3 << 20);
  auto one = tok.encode(text, {1, false});
  CHECK(tok.encode(text, {2, false}) == one);
  CHECK(tok.encode(text, {5, false}) == one);
  CHECK(tok.decode(one) == text);
}

TEST_CASE("special tokens are text unless allowed") {
  const Tokenizer& tok = test::small_tokenizer(PatternKind::gpt4);
  const uint32_t bos = *tok.special_id("<|bos|>");
  std::string text = "a<|bos|>b<|endoftext|>";
  auto plain = tok.encode(text);
  CHECK(std::find(plain.begin(), plain.end(), bos) == plain.end());
  CHECK(tok.decode(plain) == text);
  auto special = tok.encode(text, {0, true});
  CHECK(std::count(special.begin(), special.end(), bos) == 1);
  CHECK(special.back() == *tok.special_id("<|endoftext|>"));
  CHECK(tok.decode(special) == text);
}

TEST_CASE("decode refuses ids outside the vocabulary") {
  const Tokenizer& tok = test::small_tokenizer();
  std::vector<uint32_t> ids{1, uint32_t(tok.vocab_size())};
  CHECK_THROWS_WITH_AS(tok.decode(ids), doctest::Contains("outside the vocabulary"), alpha::Error);
}

TEST_CASE("round trip: sample corpus with a trained and with GPT-2's vocabulary") {
  auto brown = test::data_file("brown.txt");
  if (!brown) return;
  std::string text = read_file(*brown);
  REQUIRE(text.size() > 1000000);
  TrainOptions options;
  options.vocab_size = 4096;
  Tokenizer trained = train_tokenizer({std::string_view(text).substr(0, 2000000)}, options);
  check_roundtrip(trained, text);
  if (auto gpt2 = test::data_file("gpt2/vocab.bpe")) {
    Tokenizer g = load_tokenizer(gpt2->parent_path());
    CHECK(g.vocab_size() == 50257);
    check_roundtrip(g, text);
  }
}

TEST_CASE("encode_documents: separator + encode(doc) for each, large documents split") {
  const Tokenizer& tok = test::small_tokenizer(PatternKind::gpt4);
  std::string big = test::synthetic_text(40, 3 << 20), small1 = "short doc", small2 = "";
  std::string mid = test::synthetic_text(41, 100000);
  std::vector<std::string_view> docs{small1, big, small2, mid, small1};
  const uint32_t sep = *tok.special_id("<|bos|>");
  std::vector<uint32_t> expected;
  for (auto d : docs) {
    expected.push_back(sep);
    auto ids = tok.encode(d, {1, false});
    expected.insert(expected.end(), ids.begin(), ids.end());
  }
  CHECK(tok.encode_documents(docs, sep, 1) == expected);
  CHECK(tok.encode_documents(docs, sep, 2) == expected);
  CHECK(tok.encode_documents(docs, sep, 3) == expected);
}
