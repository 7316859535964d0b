// XXH64, the 64-bit xxHash: checksums of artifact files and token shards, and cache keys.
// A streaming Hasher feeds several pieces (paths, sizes, contents) into one key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace alpha::tok {

// One-shot XXH64 of a byte range (bit-identical to the reference xxhsum -H1).
uint64_t xxh64(const void* data, size_t size, uint64_t seed = 0);
inline uint64_t xxh64(std::string_view bytes, uint64_t seed = 0) {
  return xxh64(bytes.data(), bytes.size(), seed);
}

// Combines many pieces into one key: each piece is length-prefixed, so ("ab","c") != ("a","bc").
class Hasher {
 public:
  Hasher& add(std::string_view bytes);
  Hasher& add(uint64_t value);
  uint64_t digest() const { return state_; }

 private:
  uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

// 16 lowercase hex digits.
std::string hex64(uint64_t value);

}  // namespace alpha::tok
