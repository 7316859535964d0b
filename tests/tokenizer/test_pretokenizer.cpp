// Pre-tokenisation: the GPT-2 and GPT-4 patterns split as their references do on hand-checked
// examples, pieces always cover the input (also invalid UTF-8), and safe_cut is really safe.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "test_support.h"
#include "tokenizer/pretokenizer.h"

using alpha::tok::PatternKind;
using alpha::tok::Pretokenizer;

static std::vector<std::string> pieces(PatternKind kind, std::string_view text) {
  Pretokenizer pre(kind);
  std::vector<uint32_t> ends;
  pre.split(text, ends);
  std::vector<std::string> out;
  uint32_t start = 0;
  for (uint32_t end : ends) {
    out.emplace_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

using V = std::vector<std::string>;

TEST_CASE("GPT-4 pattern") {
  const auto k = PatternKind::gpt4;
  CHECK(pieces(k, "Hello world") == V{"Hello", " world"});
  CHECK(pieces(k, "1234567") == V{"123", "456", "7"});
  CHECK(pieces(k, "I'LL we'd") == V{"I", "'LL", " we", "'d"});
  CHECK(pieces(k, "a   b") == V{"a", "  ", " b"});
  CHECK(pieces(k, "foo!!!\n\nbar") == V{"foo", "!!!\n\n", "bar"});
  CHECK(pieces(k, "x\n\n  y") == V{"x", "\n\n", " ", " y"});
  CHECK(pieces(k, "(hi)") == V{"(hi", ")"});  // one non-letter may lead a word
  CHECK(pieces(k, "日本語 text") == V{"日本語", " text"});
  CHECK(pieces(k, "end  ") == V{"end", "  "});
}

TEST_CASE("GPT-2 pattern") {
  const auto k = PatternKind::gpt2;
  CHECK(pieces(k, "Hello world") == V{"Hello", " world"});
  CHECK(pieces(k, "1234567") == V{"1234567"});
  CHECK(pieces(k, "I'LL we'd") == V{"I", "'", "LL", " we", "'d"});
  CHECK(pieces(k, "a   b") == V{"a", "  ", " b"});
  CHECK(pieces(k, "x\n\nY") == V{"x", "\n", "\n", "Y"});
  CHECK(pieces(k, "(hi)") == V{"(", "hi", ")"});
  // JavaScript's \s includes U+FEFF and excludes U+0085 (gpt-3-encoder's regex).
  CHECK(pieces(k,
               "a\xef\xbb\xbf"
               "b") == V{"a", "\xef\xbb\xbf", "b"});
  CHECK(pieces(k, "a \xc2\x85") == V{"a", " \xc2\x85"});
}

TEST_CASE("pieces cover any bytes; invalid UTF-8 stands alone") {
  for (auto kind : {PatternKind::gpt2, PatternKind::gpt4}) {
    CHECK(pieces(kind,
                 "ab\xff\xfe"
                 "cd") == V{"ab", "\xff\xfe", "cd"});
    CHECK(pieces(kind, "\x80") == V{"\x80"});
    CHECK(pieces(kind, "x\xe6\x97") == V{"x", "\xe6\x97"});  // truncated 3-byte sequence
    for (uint64_t seed = 0; seed < 20; ++seed) {
      std::string text = alpha::tok::test::random_bytes(seed, 5000);
      std::string joined;
      for (auto& p : pieces(kind, text)) {
        REQUIRE(!p.empty());
        joined += p;
      }
      CHECK(joined == text);
    }
  }
}

TEST_CASE("safe_cut: splitting there changes no piece") {
  for (auto kind : {PatternKind::gpt2, PatternKind::gpt4}) {
    std::string text = alpha::tok::test::synthetic_text(9, 40000);
    const V whole = pieces(kind, text);
    int cuts = 0;
    for (size_t pos = 0; pos < text.size(); pos += 997) {
      size_t cut = Pretokenizer::safe_cut(text, pos);
      if (cut >= text.size()) continue;
      ++cuts;
      V parts = pieces(kind, std::string_view(text).substr(0, cut));
      V rest = pieces(kind, std::string_view(text).substr(cut));
      parts.insert(parts.end(), rest.begin(), rest.end());
      REQUIRE(parts == whole);
    }
    CHECK(cuts > 20);
  }
}
