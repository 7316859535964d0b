// Pre-tokenisation: splits text into the pieces BPE merges inside, with the GPT-2 or the
// GPT-4 (cl100k) pattern, via PCRE2's JIT. Bytes that are not valid UTF-8 never match the
// pattern; each run of them becomes a piece of its own, so every input byte lands in a piece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace alpha::tok {

enum class PatternKind : uint32_t {
  gpt2 = 1,  // GPT-2 / gpt-3-encoder, with JavaScript's \s
  gpt4 = 2,  // cl100k: case-insensitive contractions, numbers in groups of 1-3, Unicode \s
};

const char* pattern_name(PatternKind kind);
// The regular expression source for a kind (as compiled, with \s spelled out).
std::string_view pattern_source(PatternKind kind);

// A compiled pattern. Thread-safe: split() uses per-call match data.
class Pretokenizer {
 public:
  explicit Pretokenizer(PatternKind kind);
  ~Pretokenizer();
  Pretokenizer(const Pretokenizer&) = delete;
  Pretokenizer& operator=(const Pretokenizer&) = delete;

  PatternKind kind() const { return kind_; }

  // Appends the end offset of each piece of `text` to `ends` (pieces are contiguous and
  // cover the text exactly; the first starts at 0).
  void split(std::string_view text, std::vector<uint32_t>& ends) const;

  // A cut point near `pos` where splitting the text into two and pre-tokenising each part
  // gives the same pieces as the whole (after "\n" that follows a visible ASCII char and
  // precedes an ASCII letter); text.size() if none in [pos, text.size()).
  static size_t safe_cut(std::string_view text, size_t pos);
  // Appends `text` cut into pieces of about `target` bytes, each cut at a safe_cut boundary.
  static void append_safe_chunks(std::string_view text, size_t target, std::vector<std::string_view>& chunks);

 private:
  struct Compiled;
  PatternKind kind_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace alpha::tok
