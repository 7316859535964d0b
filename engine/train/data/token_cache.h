// Turns text inputs into train/validation token shards once and caches them under
// <cache_dir>/<key>/, where the key hashes the input files (path, size, contents), the
// tokenizer and the options. A manifest.json, written last, marks a complete entry.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace alpha::train::data {

struct PrepareOptions {
  std::filesystem::path cache_dir = "data/cache";
  double val_fraction = 0.01;         // share of tokens (taken from the end) held out
  uint64_t shard_tokens = 64u << 20;  // tokens per shard file
  unsigned threads = 0;               // encoding threads; 0: all
};

struct PreparedData {
  std::filesystem::path dir;  // the cache entry
  std::string key;            // 16 hex digits
  bool cache_hit = false;
  uint64_t input_bytes = 0;
  uint64_t documents = 0;
  uint64_t train_tokens = 0, val_tokens = 0;
  uint32_t vocab_size = 0;
  uint32_t dtype_bytes = 0;
  uint32_t separator = 0;  // token placed before every document
  std::vector<std::filesystem::path> train_shards, val_shards;
};

enum class Split { train, val };

// Reads, tokenises and shards `inputs` (files, folders, globs; .jsonl "text" lines), or
// returns the cached entry. Throws alpha::Error on bad input; never leaves a partial entry.
PreparedData prepare_data(const std::vector<std::string>& inputs, const tok::Tokenizer& tokenizer,
                          const PrepareOptions& options);

// The token placed before every document: <|bos|>, else <|endoftext|>; a clear error without
// either.
uint32_t document_separator(const tok::Tokenizer& tokenizer);

// Opens an existing entry (its manifest) without touching the inputs.
PreparedData open_prepared(const std::filesystem::path& dir);

// All tokens of one split, in order.
std::vector<uint32_t> load_split(const PreparedData& data, Split split);

}  // namespace alpha::train::data
