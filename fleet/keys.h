// `alpha fleet sync-keys`: installs a local public key in an instance's authorized_keys (once:
// a key already there is not added again), through the connection the fleet file's key opens.
#pragma once

#include <string>

#include "fleet/ssh.h"

namespace alpha::fleet {

// `public_key`: a .pub file (empty: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub, the first
// that exists); `authorized_keys`: the remote file (relative or ~/: from the remote home).
void sync_keys(Ssh& ssh, std::string public_key, std::string authorized_keys);

}  // namespace alpha::fleet
