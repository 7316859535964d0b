// Parses a tiktoken rank file and derives the pair -> rank merge table.
#include "tokenizer/tiktoken_file.h"

#include <fstream>
#include <unordered_map>

#include "common/error.h"
#include "tokenizer/file_io.h"

namespace alpha::tok {
namespace {

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool b64_decode(std::string_view in, std::string& out) {
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    int v = b64_value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(char((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i)
    if (in[i] != '=') return false;
  return in.size() % 4 == 0;
}

bool parse_line(std::string_view line, std::string& bytes, uint64_t& rank) {
  size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 >= line.size()) return false;
  if (!b64_decode(line.substr(0, space), bytes) || bytes.empty()) return false;
  rank = 0;
  for (char c : line.substr(space + 1)) {
    if (c < '0' || c > '9' || rank > UINT32_MAX) return false;
    rank = rank * 10 + uint64_t(c - '0');
  }
  return true;
}

}  // namespace

bool looks_like_tiktoken(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string line, bytes;
  uint64_t rank;
  if (!std::getline(in, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return parse_line(line, bytes, rank);
}

Tokenizer load_tiktoken_file(const std::filesystem::path& path) {
  const std::string name = path.string();
  const std::string text = read_file(path);
  std::vector<std::string> tokens;
  std::string bytes;
  size_t pos = 0, line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    uint64_t rank;
    if (!parse_line(line, bytes, rank))
      fail("{}:{}: expected '<base64 token> <rank>'", name, line_no);
    if (rank >= text.size() / 4)  // every rank needs a line of at least 4 bytes
      fail("{}:{}: rank {} is impossible for a file of this size", name, line_no, rank);
    if (rank >= tokens.size()) tokens.resize(rank + 1);
    if (!tokens[rank].empty()) fail("{}:{}: rank {} appears twice", name, line_no, rank);
    tokens[rank] = bytes;
  }
  if (tokens.empty()) fail("{}: empty tiktoken rank file", name);
  std::unordered_map<std::string_view, uint32_t> ids;
  for (uint32_t r = 0; r < tokens.size(); ++r) {
    if (tokens[r].empty()) fail("{}: rank {} is missing (ranks must be 0..n-1)", name, r);
    if (!ids.emplace(tokens[r], r).second) fail("{}: token of rank {} appears twice", name, r);
  }
  std::vector<Merge> merges;
  for (uint32_t r = 0; r < tokens.size(); ++r) {
    std::string_view t = tokens[r];
    for (size_t k = 1; k < t.size(); ++k) {
      auto l = ids.find(t.substr(0, k));
      if (l == ids.end()) continue;
      auto rt = ids.find(t.substr(k));
      if (rt == ids.end()) continue;
      merges.push_back({l->second, rt->second, r, r});
    }
  }
  const PatternKind pattern = tokens.size() < 60000 ? PatternKind::gpt2 : PatternKind::gpt4;
  ids.clear();
  std::vector<bool> special(tokens.size(), false);
  tokens.push_back("<|endoftext|>");
  special.push_back(true);
  try {
    return Tokenizer(pattern, std::move(tokens), std::move(special), std::move(merges));
  } catch (const Error& e) {
    fail("{}: {}", name, e.what());
  }
}

}  // namespace alpha::tok
