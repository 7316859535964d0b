// PCRE2 (UTF + UCP + MATCH_INVALID_UTF, JIT-compiled) implementation of the two
// pre-tokenisation patterns. \s is spelled out per pattern so that it means what the
// reference implementation means: JavaScript's \s for GPT-2, Unicode White_Space for GPT-4.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include "common/error.h"

namespace alpha::tok {
namespace {

// JavaScript \s (ECMAScript WhiteSpace + LineTerminator), as gpt-3-encoder's /u regex sees it.
#define JS_WS          \
  "\\t\\n\\x0B\\f\\r " \
  "\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}"
// Unicode White_Space, as Rust's regex (tiktoken) sees \s.
#define UNI_WS \
  "\\t-\\r "   \
  "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

// GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
constexpr std::string_view kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" JS_WS
                                   "\\p{L}\\p{N}]+|[" JS_WS "]+(?![^" JS_WS "])|[" JS_WS "]+";

// GPT-4 (cl100k): (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//                 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
constexpr std::string_view kGpt4 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" UNI_WS
    "\\p{L}\\p{N}]+[\\r\\n]*|[" UNI_WS "]*[\\r\\n]+|[" UNI_WS "]+(?![^" UNI_WS "])|[" UNI_WS "]+";

#undef JS_WS
#undef UNI_WS

}  // namespace

const char* pattern_name(PatternKind kind) {
  switch (kind) {
    case PatternKind::gpt2:
      return "gpt2";
    case PatternKind::gpt4:
      return "gpt4";
  }
  return "unknown";
}

std::string_view pattern_source(PatternKind kind) {
  return kind == PatternKind::gpt2 ? kGpt2 : kGpt4;
}

struct Pretokenizer::Compiled {
  pcre2_code* code = nullptr;
  ~Compiled() { pcre2_code_free(code); }
};

Pretokenizer::Pretokenizer(PatternKind kind) : kind_(kind), compiled_(new Compiled) {
  if (kind != PatternKind::gpt2 && kind != PatternKind::gpt4)
    fail("unknown pre-tokenisation pattern kind {}", uint32_t(kind));
  std::string_view src = pattern_source(kind);
  int error = 0;
  PCRE2_SIZE offset = 0;
  compiled_->code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(src.data()), src.size(),
                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  if (!compiled_->code) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    fail("internal: pre-tokenisation pattern does not compile at {}: {}", offset,
         reinterpret_cast<const char*>(message));
  }
  if (pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE) != 0)
    fail("PCRE2 JIT compilation failed (is this CPU supported by PCRE2's JIT?)");
}

Pretokenizer::~Pretokenizer() = default;

void Pretokenizer::split(std::string_view text, std::vector<uint32_t>& ends) const {
  if (text.size() > UINT32_MAX) fail("internal: pre-tokeniser input over 4 GiB; split it");
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  if (!md) fail("out of memory creating PCRE2 match data");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  const size_t n = text.size();
  size_t offset = 0;
  while (offset < n) {
    int rc = pcre2_jit_match(compiled_->code, subject, n, offset, 0, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) {
      ends.push_back(uint32_t(n));  // trailing bytes that are not valid UTF-8
      break;
    }
    if (rc < 0) {
      pcre2_match_data_free(md);
      fail("internal: PCRE2 match error {}", rc);
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[0] > offset) ends.push_back(uint32_t(ov[0]));  // invalid UTF-8 run before the match
    if (ov[1] <= ov[0]) {  // cannot happen with these patterns; guard against a loop
      pcre2_match_data_free(md);
      fail("internal: empty pre-token match");
    }
    ends.push_back(uint32_t(ov[1]));
    offset = ov[1];
  }
  pcre2_match_data_free(md);
}

size_t Pretokenizer::safe_cut(std::string_view text, size_t pos) {
  auto is_letter = [](unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; };
  for (size_t i = std::max<size_t>(pos, 2); i < text.size(); ++i) {
    if (text[i - 1] == '\n' && is_letter(text[i]) && text[i - 2] > ' ' && text[i - 2] <= '~')
      return i;
  }
  return text.size();
}

void Pretokenizer::append_safe_chunks(std::string_view text, size_t target,
                                      std::vector<std::string_view>& chunks) {
  size_t start = 0;
  while (start < text.size()) {
    const size_t cut = start + target >= text.size() ? text.size() : safe_cut(text, start + target);
    chunks.push_back(text.substr(start, cut - start));
    start = cut;
  }
}

}  // namespace alpha::tok
