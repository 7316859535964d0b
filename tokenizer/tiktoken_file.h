// tiktoken's rank files ("<base64 token> <rank>" per line, ranks 0..n-1). The merge table is
// derived: every split of a token into two tokens becomes a pair whose rank is the token's
// rank, which is exactly tiktoken's rule. <|endoftext|> is added as id n (rank files carry no
// special tokens). Files under 60,000 ranks use the GPT-2 pattern, others the cl100k one.
#pragma once

#include <filesystem>

#include "tokenizer/tokenizer.h"

namespace alpha::tok {

Tokenizer load_tiktoken_file(const std::filesystem::path& path);
// True if the first line looks like "<base64> <integer>".
bool looks_like_tiktoken(const std::filesystem::path& path);

}  // namespace alpha::tok
