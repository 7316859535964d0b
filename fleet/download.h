// `alpha fleet download`: copies a remote run directory here, file by file through a temporary name
// and a rename. A file whose local copy already has the remote SHA-256 is skipped, so running it
// again copies only what is new or changed (a growing train.log, new checkpoints). Local files the
// remote no longer has (pruned checkpoints) are left alone.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "fleet/ssh.h"

namespace alpha::fleet {

struct DownloadSummary {
  int copied = 0, complete = 0;  // files copied now, files that were already here
  uintmax_t bytes = 0;           // bytes copied now
};

DownloadSummary download_run(Ssh& ssh, const std::string& run, const std::filesystem::path& to);

// One line of `sha256sum` output -> {hash, name}; names with \ or newline come escaped behind a
// leading backslash. Empty hash for a line that is not one.
std::pair<std::string, std::string> parse_sha256sum_line(const std::string& line);

}  // namespace alpha::fleet
