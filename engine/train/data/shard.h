// Token shard files: a small header (magic, version, dtype, token count, XXH64 of the raw
// tokens, payload size) followed by one zstd frame of little-endian uint16 or uint32 tokens.
// Written atomically; a truncated or corrupt shard is refused with a clear message.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace alpha::train::data {

inline constexpr char kShardMagic[8] = {'A', 'L', 'P', 'H', 'A', 'S', 'H', 'D'};
inline constexpr uint32_t kShardVersion = 1;

// uint16 when every id fits (vocab_size <= 65536), else uint32.
uint32_t shard_dtype_bytes(size_t vocab_size);

void write_shard(const std::filesystem::path& path, std::span<const uint32_t> tokens,
                 uint32_t dtype_bytes);
// Appends the shard's tokens to `out`.
void read_shard(const std::filesystem::path& path, std::vector<uint32_t>& out);

}  // namespace alpha::train::data
