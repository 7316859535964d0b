// Implementation of the shared test helpers.
#include "test_support.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "common/error.h"

namespace alpha::tok::test {

std::string random_bytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng() & 0xFF);
  return s;
}

std::string synthetic_text(uint64_t seed, size_t n) {
  static const char* words[] = {
      "the",     "of",    "and",          "to",         "in",     "is",       "that",
      "it",      "was",   "for",          "on",         "are",    "with",     "they",
      "be",      "at",    "one",          "have",       "this",   "from",     "hello",
      "world",   "token", "merge",        "byte",       "pair",   "encoding", "alpha",
      "model",   "train", "The",          "It's",       "don't",  "we'll",    "I'M",
      "they've", "naïve", "café",         "日本語",     "中文",   "😀",        "мир",
      "λόγος",   "2024",  "3.14",         "1234567",    "!!!",    "...",      ",",
      ".",       "?",     "(x)",          "\"quoted\"", "\t",     "  ",       "\n",
      "\n\n",    "\r\n",  "    indented", "e\u0301",    "\u00a0", "\u3000"};
  std::mt19937_64 rng(seed);
  std::string s;
  while (s.size() < n) {
    s += words[rng() % std::size(words)];
    s += (rng() % 7 == 0) ? "\n" : " ";
  }
  s.resize(n);
  return s;
}

const Tokenizer& small_tokenizer(PatternKind pattern, size_t vocab) {
  static std::mutex mutex;
  static std::map<std::pair<int, size_t>, Tokenizer> cache;
  std::lock_guard lock(mutex);
  auto key = std::make_pair(int(pattern), vocab);
  auto it = cache.find(key);
  if (it == cache.end()) {
    std::string text = synthetic_text(1, 200000);
    TrainOptions options;
    options.vocab_size = vocab;
    options.pattern = pattern;
    it = cache.emplace(key, train_tokenizer({text}, options)).first;
  }
  return it->second;
}

std::optional<std::filesystem::path> data_file(const std::string& relative) {
  const char* root = std::getenv("ALPHA_SOURCE_ROOT");
  std::filesystem::path path = std::filesystem::path(root ? root : ".") / "data" / relative;
  if (std::filesystem::exists(path)) return path;
  const char* ci = std::getenv("CI");
  if (ci && std::string(ci) == "true")
    FAIL("missing " << path.string() << ": CI must run scripts/fetch-data before the tests");
  MESSAGE("skipping: " << path.string() << " is missing (run scripts/fetch-data)");
  return std::nullopt;
}

TempDir::TempDir() {
  static int counter = 0;
  path = std::filesystem::temp_directory_path() /
         ("alpha-tok-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

}  // namespace alpha::tok::test
