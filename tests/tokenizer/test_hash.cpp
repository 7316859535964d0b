// XXH64 against values from the reference `xxhsum -H1`, and the Hasher's length prefixing.
#include <doctest/doctest.h>

#include <string>

#include "tokenizer/hash.h"

using alpha::tok::Hasher;
using alpha::tok::xxh64;

static std::string pattern_bytes(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 7 + 3) % 256);
  return s;
}

TEST_CASE("xxh64 matches xxhsum -H1") {
  CHECK(xxh64("") == 0xef46db3751d8e999ull);
  CHECK(xxh64("abc") == 0x44bc2cf5ad770999ull);
  CHECK(xxh64(pattern_bytes(37)) == 0xe32ef63802f5a3fdull);    // tail paths (8, 4, 1 bytes)
  CHECK(xxh64(pattern_bytes(1000)) == 0x5f235fa033f1a3fbull);  // 32-byte lanes
}

TEST_CASE("Hasher separates its pieces") {
  CHECK(Hasher().add("ab").add("c").digest() != Hasher().add("a").add("bc").digest());
  CHECK(Hasher().add("ab").add("c").digest() == Hasher().add("ab").add("c").digest());
  CHECK(alpha::tok::hex64(0xabcull) == "0000000000000abc");
}
