// Shard encoding/decoding with zstd (level 3, multithreaded compression is not needed at
// these sizes); the checksum covers the uncompressed token bytes.
#include "engine/train/data/shard.h"

#include <zstd.h>

#include <cstring>

#include "common/error.h"
#include "tokenizer/file_io.h"
#include "tokenizer/hash.h"

namespace alpha::train::data {
namespace {

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dtype_bytes;
  uint64_t count;
  uint64_t checksum;
  uint64_t payload_bytes;
};
static_assert(sizeof(Header) == 40);

}  // namespace

uint32_t shard_dtype_bytes(size_t vocab_size) {
  return vocab_size <= 65536 ? 2 : 4;
}

void write_shard(const std::filesystem::path& path, std::span<const uint32_t> tokens,
                 uint32_t dtype_bytes) {
  std::string raw(tokens.size() * dtype_bytes, '\0');
  if (dtype_bytes == 2) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (tokens[i] > 0xFFFF) fail("internal: token {} does not fit a uint16 shard", tokens[i]);
      uint16_t v = uint16_t(tokens[i]);
      std::memcpy(raw.data() + 2 * i, &v, 2);
    }
  } else if (dtype_bytes == 4) {
    std::memcpy(raw.data(), tokens.data(), raw.size());
  } else {
    fail("internal: shard dtype must be 2 or 4 bytes, not {}", dtype_bytes);
  }
  Header h{};
  std::memcpy(h.magic, kShardMagic, 8);
  h.version = kShardVersion;
  h.dtype_bytes = dtype_bytes;
  h.count = tokens.size();
  h.checksum = tok::xxh64(raw);
  std::string file(sizeof(Header) + ZSTD_compressBound(raw.size()), '\0');
  size_t z = ZSTD_compress(file.data() + sizeof(Header), file.size() - sizeof(Header), raw.data(),
                           raw.size(), 3);
  if (ZSTD_isError(z)) fail("{}: zstd compression failed: {}", path.string(), ZSTD_getErrorName(z));
  h.payload_bytes = z;
  std::memcpy(file.data(), &h, sizeof h);
  file.resize(sizeof(Header) + z);
  tok::write_file_atomic(path, file);
}

void read_shard(const std::filesystem::path& path, std::vector<uint32_t>& out) {
  const std::string name = path.string();
  const std::string file = tok::read_file(path);
  Header h;
  if (file.size() < sizeof h || std::memcmp(file.data(), kShardMagic, 8) != 0)
    fail("{}: not a token shard (bad magic); delete the cache folder to rebuild it", name);
  std::memcpy(&h, file.data(), sizeof h);
  if (h.version != kShardVersion)
    fail("{}: shard version {} is not supported (expected {})", name, h.version, kShardVersion);
  if (h.dtype_bytes != 2 && h.dtype_bytes != 4) fail("{}: shard has a bad dtype", name);
  if (h.payload_bytes != file.size() - sizeof h)
    fail("{}: shard is truncated; delete the cache folder to rebuild it", name);
  if (h.count > (uint64_t(1) << 40)) fail("{}: shard header is corrupt", name);
  std::string raw(h.count * h.dtype_bytes, '\0');
  size_t n = ZSTD_decompress(raw.data(), raw.size(), file.data() + sizeof h, h.payload_bytes);
  if (ZSTD_isError(n) || n != raw.size())
    fail("{}: shard is corrupt (zstd: {}); delete the cache folder to rebuild it", name,
         ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch");
  if (tok::xxh64(raw) != h.checksum)
    fail("{}: shard is corrupt (checksum mismatch); delete the cache folder to rebuild it", name);
  size_t base = out.size();
  out.resize(base + h.count);
  if (h.dtype_bytes == 2) {
    for (size_t i = 0; i < h.count; ++i) {
      uint16_t v;
      std::memcpy(&v, raw.data() + 2 * i, 2);
      out[base + i] = v;
    }
  } else {
    std::memcpy(out.data() + base, raw.data(), raw.size());
  }
}

}  // namespace alpha::train::data
