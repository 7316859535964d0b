// Whole-file reads and atomic writes (temp file in the same folder, fsync, rename, fsync of
// the folder), so a crash never leaves a half-written artifact, shard or cache entry.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace alpha::tok {

// Reads a whole file; throws alpha::Error naming the path if it is missing or unreadable.
std::string read_file(const std::filesystem::path& path);

// Writes `bytes` to `path` atomically (creates parent folders).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

// fsyncs a folder so that a rename inside it is durable.
void sync_directory(const std::filesystem::path& dir);

}  // namespace alpha::tok
