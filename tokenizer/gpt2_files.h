// GPT-2's original vocabulary files: encoder.json (token string -> id, with bytes mapped to
// printable characters by bytes_to_unicode) and vocab.bpe (merges, one "a b" per line, in rank
// order). The result uses the GPT-2 pre-tokenisation pattern.
#pragma once

#include <filesystem>

#include "tokenizer/tokenizer.h"

namespace alpha::tok {

Tokenizer load_gpt2_files(const std::filesystem::path& encoder_json,
                          const std::filesystem::path& vocab_bpe);

}  // namespace alpha::tok
