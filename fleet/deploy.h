// `alpha fleet deploy`: puts this alpha binary on an instance, only when its SHA-256 differs from the
// one there, through a temporary name and a rename so a running binary is never half-replaced. The
// same careful upload serves training data.
#pragma once

#include <string>

#include "fleet/ssh.h"

namespace alpha::fleet {

// The SHA-256 of a local file, as lowercase hex (through `sha256sum`).
std::string local_sha256(const std::string& path);

// The binary that is running now.
std::string local_alpha_path();

struct UploadResult {
  bool uploaded = false;  // false: the remote file already had these bytes
  std::string sha256;
  uintmax_t bytes = 0;
};

// Makes `remote` (relative to the deployDir) hold the bytes of the local file: compares SHA-256s,
// uploads to a temporary name beside it, checks the copy's SHA-256, and renames it into place. An
// executable is also run with --version before the rename, so a binary that cannot run there never
// replaces one that can.
UploadResult upload_if_changed(Ssh& ssh, const std::string& local, const std::string& remote, bool executable);

// Deploys the running alpha binary; prints what it did.
void deploy(Ssh& ssh);

}  // namespace alpha::fleet
