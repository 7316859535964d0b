// File formats: the artifact round-trips and refuses corruption; a tokenizer written out as a
// tiktoken rank file or as GPT-2's encoder.json + vocab.bpe loads back and encodes identically.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "test_support.h"
#include "tokenizer/artifact.h"
#include "tokenizer/file_io.h"
#include "tokenizer/load.h"

using namespace alpha::tok;

static std::string base64(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8 | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += abc[(v >> (6 * k)) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += abc[v >> 18];
    out += abc[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8;
    out += abc[v >> 18];
    out += abc[(v >> 12) & 63];
    out += abc[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

TEST_CASE("artifact round trip") {
  test::TempDir dir;
  const Tokenizer& tok = test::small_tokenizer();
  save_artifact(tok, dir.path / "tok.bin");
  Tokenizer back = load_tokenizer(dir.path / "tok.bin");
  CHECK(back.hash() == tok.hash());
  std::string text = test::synthetic_text(77, 20000);
  CHECK(back.encode(text) == tok.encode(text));
  // Only the artifact is left in the folder (no temp files).
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 1);
}

TEST_CASE("corrupt artifacts are refused") {
  test::TempDir dir;
  std::string good = serialize_artifact(test::small_tokenizer());
  auto load_bytes = [&](const std::string& bytes) {
    write_file_atomic(dir.path / "t.bin", bytes);
    return load_tokenizer(dir.path / "t.bin");
  };
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x40;
  CHECK_THROWS_WITH_AS(load_bytes(flipped), doctest::Contains("corrupt"), alpha::Error);
  CHECK_THROWS_WITH_AS(load_bytes(good.substr(0, good.size() - 9)), doctest::Contains("corrupt"),
                       alpha::Error);
  CHECK_THROWS_WITH_AS(load_bytes(good.substr(0, 12)), doctest::Contains("truncated"),
                       alpha::Error);
  std::string version = good;
  version[8] = 9;
  CHECK_THROWS_WITH_AS(load_bytes(version), doctest::Contains("version 9"), alpha::Error);
  CHECK_THROWS_WITH_AS(load_bytes("not a tokenizer at all\n"), doctest::Contains("not a tokenizer"),
                       alpha::Error);
  CHECK_THROWS_WITH_AS(load_bytes(""), doctest::Contains("empty"), alpha::Error);
  CHECK_THROWS_WITH_AS(load_tokenizer(dir.path / "missing.bin"), doctest::Contains("not found"),
                       alpha::Error);
}

TEST_CASE("tiktoken rank file") {
  test::TempDir dir;
  const Tokenizer& tok = test::small_tokenizer(PatternKind::gpt2, 1024);
  {
    std::ofstream out(dir.path / "ranks.tiktoken", std::ios::binary);
    for (uint32_t id = 0; id < tok.vocab_size(); ++id)
      if (!tok.is_special(id)) out << base64(tok.token_bytes(id)) << ' ' << id << '\n';
  }
  Tokenizer ranks = load_tokenizer(dir.path / "ranks.tiktoken");
  CHECK(ranks.pattern() == PatternKind::gpt2);
  std::string text = test::synthetic_text(8, 100000) + test::random_bytes(8, 3000);
  CHECK(ranks.encode(text) == tok.encode(text));
  {
    std::ofstream out(dir.path / "bad.tiktoken", std::ios::binary);
    out << "YQ== 0\nYg== 0\n";
  }
  CHECK_THROWS_WITH_AS(load_tokenizer(dir.path / "bad.tiktoken"), doctest::Contains("twice"),
                       alpha::Error);
  {
    std::ofstream out(dir.path / "huge.tiktoken", std::ios::binary);
    out << "YQ== 0\nYg== 4000000000\n";
  }
  CHECK_THROWS_WITH_AS(load_tokenizer(dir.path / "huge.tiktoken"), doctest::Contains("impossible"),
                       alpha::Error);
}

// GPT-2's bytes_to_unicode, forward.
static std::string gpt2_string(std::string_view bytes) {
  std::string out;
  for (uint8_t b : bytes) {
    uint32_t cp = b;
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    if (!printable) {
      uint32_t n = 0;
      for (uint32_t c = 0; c < b; ++c)
        if (!((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE))) ++n;
      cp = 256 + n;
    }
    if (cp < 0x80) {
      out += char(cp);
    } else {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

TEST_CASE("GPT-2 encoder.json + vocab.bpe") {
  test::TempDir dir;
  const Tokenizer& tok = test::small_tokenizer(PatternKind::gpt2, 1024);
  nlohmann::json enc = nlohmann::json::object();
  // GPT-2 files hold one special token, <|endoftext|>, right after the merges.
  uint32_t dense = 0;
  for (uint32_t id = 0; id < tok.vocab_size(); ++id)
    if (!tok.is_special(id)) enc[gpt2_string(tok.token_bytes(id))] = dense++;
  enc["<|endoftext|>"] = dense;
  std::ofstream(dir.path / "encoder.json") << enc.dump();
  {
    std::ofstream bpe(dir.path / "vocab.bpe", std::ios::binary);
    bpe << "#version: 0.2\n";
    for (const Merge& m : tok.merges())
      bpe << gpt2_string(tok.token_bytes(m.left)) << ' ' << gpt2_string(tok.token_bytes(m.right))
          << '\n';
  }
  Tokenizer gpt2 = load_tokenizer(dir.path);
  CHECK(gpt2.pattern() == PatternKind::gpt2);
  CHECK(gpt2.vocab_size() == dense + 1);
  std::string text = test::synthetic_text(12, 100000) + test::random_bytes(12, 3000);
  CHECK(gpt2.encode(text) == tok.encode(text));
  std::filesystem::remove(dir.path / "vocab.bpe");
  CHECK_THROWS_WITH_AS(load_tokenizer(dir.path), doctest::Contains("vocab.bpe"), alpha::Error);
}

TEST_CASE("load_or_train_tokenizer trains once, then loads") {
  test::TempDir dir;
  write_file_atomic(dir.path / "in.txt", test::synthetic_text(2, 50000));
  TrainOptions options;
  options.vocab_size = 700;
  bool trained = false;
  auto path = dir.path / "art" / "tok.bin";
  Tokenizer a = load_or_train_tokenizer(path, {(dir.path / "in.txt").string()}, options, &trained);
  CHECK(trained);
  Tokenizer b = load_or_train_tokenizer(path, {"/nonexistent-is-not-read"}, options, &trained);
  CHECK(!trained);
  CHECK(a.hash() == b.hash());
}
