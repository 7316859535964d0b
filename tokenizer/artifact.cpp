// Artifact layout (little-endian), version 1:
//   "ALPHATOK" u32 version u32 pattern u32 vocab_size u32 merge_count
//   vocab_size x { u8 special, u32 length, bytes }   merge_count x { u32 left, right, result, rank
//   } u64 XXH64 of everything before it
#include "tokenizer/artifact.h"

#include <cstring>
#include <fstream>

#include "common/error.h"
#include "tokenizer/file_io.h"
#include "tokenizer/hash.h"

namespace alpha::tok {
namespace {

void put32(std::string& out, uint32_t v) {
  out.append(reinterpret_cast<const char*>(&v), 4);
}

struct Reader {
  std::string_view bytes;
  std::string_view name;
  size_t pos = 0;
  void need(size_t n) {
    if (bytes.size() - pos < n)
      fail("{}: tokenizer artifact is truncated (delete it to retrain, or point at a good copy)",
           name);
  }
  uint32_t u32() {
    need(4);
    uint32_t v;
    std::memcpy(&v, bytes.data() + pos, 4);
    pos += 4;
    return v;
  }
  uint8_t u8() {
    need(1);
    return uint8_t(bytes[pos++]);
  }
  std::string_view take(size_t n) {
    need(n);
    auto s = bytes.substr(pos, n);
    pos += n;
    return s;
  }
};

}  // namespace

std::string serialize_artifact(const Tokenizer& tok) {
  std::string out(kArtifactMagic);
  put32(out, kArtifactVersion);
  put32(out, uint32_t(tok.pattern()));
  put32(out, uint32_t(tok.vocab_size()));
  put32(out, uint32_t(tok.merges().size()));
  for (uint32_t id = 0; id < tok.vocab_size(); ++id) {
    out.push_back(tok.is_special(id) ? 1 : 0);
    put32(out, uint32_t(tok.token_bytes(id).size()));
    out += tok.token_bytes(id);
  }
  for (const Merge& m : tok.merges()) {
    put32(out, m.left);
    put32(out, m.right);
    put32(out, m.result);
    put32(out, m.rank);
  }
  uint64_t sum = xxh64(out);
  out.append(reinterpret_cast<const char*>(&sum), 8);
  return out;
}

Tokenizer deserialize_artifact(std::string_view bytes, std::string_view name) {
  if (bytes.size() < kArtifactMagic.size() ||
      bytes.substr(0, kArtifactMagic.size()) != kArtifactMagic)
    fail(
        "{}: not an alpha tokenizer artifact (bad magic); pass an artifact, a tiktoken rank file "
        "or a folder with GPT-2's encoder.json + vocab.bpe",
        name);
  if (bytes.size() < kArtifactMagic.size() + 16 + 8)
    fail("{}: tokenizer artifact is truncated (delete it to retrain)", name);
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  std::string_view body = bytes.substr(0, bytes.size() - 8);
  Reader r{body, name, kArtifactMagic.size()};
  uint32_t version = r.u32();
  if (version != kArtifactVersion)
    fail("{}: tokenizer artifact version {} is not supported (this alpha reads version {})", name,
         version, kArtifactVersion);
  if (xxh64(body) != stored)
    fail("{}: tokenizer artifact is corrupt (checksum mismatch); delete it to retrain", name);
  uint32_t pattern = r.u32();
  if (pattern != uint32_t(PatternKind::gpt2) && pattern != uint32_t(PatternKind::gpt4))
    fail("{}: tokenizer artifact names unknown pattern kind {}", name, pattern);
  uint32_t vocab = r.u32(), merges = r.u32();
  if (vocab > body.size() / 5 || merges > body.size() / 16)
    fail("{}: tokenizer artifact is corrupt (impossible sizes)", name);
  std::vector<std::string> tokens(vocab);
  std::vector<bool> special(vocab);
  for (uint32_t i = 0; i < vocab; ++i) {
    special[i] = r.u8() != 0;
    tokens[i] = std::string(r.take(r.u32()));
  }
  std::vector<Merge> list(merges);
  for (Merge& m : list) {
    m.left = r.u32();
    m.right = r.u32();
    m.result = r.u32();
    m.rank = r.u32();
  }
  if (r.pos != body.size()) fail("{}: tokenizer artifact is corrupt (trailing bytes)", name);
  try {
    return Tokenizer(PatternKind(pattern), std::move(tokens), std::move(special), std::move(list));
  } catch (const Error& e) {
    fail("{}: tokenizer artifact is inconsistent: {}", name, e.what());
  }
}

void save_artifact(const Tokenizer& tok, const std::filesystem::path& path) {
  write_file_atomic(path, serialize_artifact(tok));
}

Tokenizer load_artifact(const std::filesystem::path& path) {
  return deserialize_artifact(read_file(path), path.string());
}

bool looks_like_artifact(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[8] = {};
  in.read(head, 8);
  return in.gcount() == 8 && std::string_view(head, 8) == kArtifactMagic;
}

}  // namespace alpha::tok
