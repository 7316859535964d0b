// alpha's own tokenizer file: a versioned binary artifact with a magic, the pattern kind, the
// whole vocabulary, the merges and an XXH64 checksum. Written atomically; a corrupt or
// truncated file is refused with a message naming the file.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"

namespace alpha::tok {

inline constexpr std::string_view kArtifactMagic = "ALPHATOK";
inline constexpr uint32_t kArtifactVersion = 1;

std::string serialize_artifact(const Tokenizer& tok);
// `name` is used in error messages (usually the path).
Tokenizer deserialize_artifact(std::string_view bytes, std::string_view name);

void save_artifact(const Tokenizer& tok, const std::filesystem::path& path);
Tokenizer load_artifact(const std::filesystem::path& path);

// True if the file starts with the artifact magic.
bool looks_like_artifact(const std::filesystem::path& path);

}  // namespace alpha::tok
