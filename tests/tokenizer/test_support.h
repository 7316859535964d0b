// Helpers shared by the tokenizer tests: seeded random text, a small trained tokenizer, the
// repository's data/ folder (tests that need it fail when CI=true and it is missing), and a
// temporary folder removed at scope exit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <string>

#include "tokenizer/tokenizer.h"
#include "tokenizer/trainer.h"

namespace alpha::tok::test {

// Deterministic pseudo-random bytes (any value 0..255).
std::string random_bytes(uint64_t seed, size_t n);
// Deterministic English-like text with digits, punctuation, whitespace runs and some Unicode.
std::string synthetic_text(uint64_t seed, size_t n);
// A tokenizer trained on synthetic_text (cached per pattern/vocab size).
const Tokenizer& small_tokenizer(PatternKind pattern = PatternKind::gpt4, size_t vocab = 1024);

// data/ under the source tree (ALPHA_SOURCE_ROOT), or nullopt when the file is missing. With
// CI=true a missing file fails the test instead: CI must run scripts/fetch-data first.
std::optional<std::filesystem::path> data_file(const std::string& relative);

struct TempDir {
  std::filesystem::path path;
  TempDir();
  ~TempDir();
};

}  // namespace alpha::tok::test
