// Reads encoder.json + vocab.bpe: undoes bytes_to_unicode on every token string and turns each
// merge line into (left id, right id) -> id of the concatenation, rank = line order.
#include "tokenizer/gpt2_files.h"

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/error.h"
#include "tokenizer/file_io.h"

namespace alpha::tok {
namespace {

// GPT-2's bytes_to_unicode, inverted: code point -> byte.
std::unordered_map<uint32_t, uint8_t> unicode_to_byte() {
  std::unordered_map<uint32_t, uint8_t> map;
  uint32_t n = 0;
  for (uint32_t b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    map[printable ? b : 256 + n++] = uint8_t(b);
  }
  return map;
}

// Decodes UTF-8 into code points and maps each back to its byte; false if not a GPT-2 string.
bool to_bytes(std::string_view s, const std::unordered_map<uint32_t, uint8_t>& map,
              std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size();) {
    uint8_t c = uint8_t(s[i]);
    uint32_t cp;
    int len;
    if (c < 0x80)
      cp = c, len = 1;
    else if ((c >> 5) == 6)
      cp = c & 0x1F, len = 2;
    else if ((c >> 4) == 14)
      cp = c & 0x0F, len = 3;
    else
      return false;
    if (i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (uint8_t(s[i + k]) & 0x3F);
    auto it = map.find(cp);
    if (it == map.end()) return false;
    out.push_back(char(it->second));
    i += size_t(len);
  }
  return true;
}

}  // namespace

Tokenizer load_gpt2_files(const std::filesystem::path& encoder_json,
                          const std::filesystem::path& vocab_bpe) {
  const std::string name = encoder_json.string();
  nlohmann::json enc;
  try {
    enc = nlohmann::json::parse(read_file(encoder_json));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", name, e.what());
  }
  if (!enc.is_object() || enc.empty()) fail("{}: expected a JSON object of token -> id", name);
  const auto map = unicode_to_byte();
  std::vector<std::string> tokens(enc.size());
  std::vector<bool> special(enc.size(), false);
  std::vector<bool> seen(enc.size(), false);
  std::unordered_map<std::string, uint32_t> by_string;  // encoder.json's own strings
  std::string bytes;
  for (auto& [key, value] : enc.items()) {
    if (!value.is_number_unsigned() || value.get<uint64_t>() >= enc.size())
      fail("{}: token '{}' has id {} outside 0..{}", name, key, value.dump(), enc.size() - 1);
    uint32_t id = value.get<uint32_t>();
    if (seen[id]) fail("{}: id {} is used twice", name, id);
    seen[id] = true;
    by_string[key] = id;
    if (key == "<|endoftext|>") {
      tokens[id] = key;
      special[id] = true;
    } else if (!to_bytes(key, map, bytes) || bytes.empty()) {
      fail("{}: token '{}' is not a GPT-2 byte string", name, key);
    } else {
      tokens[id] = bytes;
    }
  }
  const std::string bpe = read_file(vocab_bpe);
  std::vector<Merge> merges;
  size_t pos = 0, line_no = 0;
  while (pos < bpe.size()) {
    size_t end = bpe.find('\n', pos);
    if (end == std::string::npos) end = bpe.size();
    std::string_view line(bpe.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.starts_with("#version"))) continue;
    size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 >= line.size() ||
        line.find(' ', space + 1) != std::string_view::npos)
      fail("{}:{}: expected two tokens separated by one space", vocab_bpe.string(), line_no);
    std::string a(line.substr(0, space)), b(line.substr(space + 1));
    auto ia = by_string.find(a), ib = by_string.find(b), ir = by_string.find(a + b);
    if (ia == by_string.end() || ib == by_string.end() || ir == by_string.end())
      fail("{}:{}: merge '{} {}' uses a token missing from {}", vocab_bpe.string(), line_no, a, b,
           name);
    merges.push_back({ia->second, ib->second, ir->second, uint32_t(merges.size())});
  }
  if (merges.empty()) fail("{}: no merges found", vocab_bpe.string());
  try {
    return Tokenizer(PatternKind::gpt2, std::move(tokens), std::move(special), std::move(merges));
  } catch (const Error& e) {
    fail("{} + {}: {}", name, vocab_bpe.string(), e.what());
  }
}

}  // namespace alpha::tok
