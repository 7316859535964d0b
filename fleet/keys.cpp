// Public key installation (see keys.h).
#include "fleet/keys.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "fleet/shell_quote.h"

namespace alpha::fleet {

namespace {

std::string default_public_key() {
  const char* home = std::getenv("HOME");
  for (const char* name : {"id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"}) {
    const std::string path = fmt::format("{}/.ssh/{}", home ? home : "", name);
    if (std::filesystem::exists(path)) return path;
  }
  fail("no public key in ~/.ssh (id_ed25519.pub, id_ecdsa.pub, id_rsa.pub): pass --public-key=PATH");
}

}  // namespace

void sync_keys(Ssh& ssh, std::string public_key, std::string authorized_keys) {
  if (authorized_keys.starts_with("~/")) authorized_keys = authorized_keys.substr(2);  // ssh starts in the home
  if (public_key.empty()) public_key = default_public_key();
  std::ifstream in(public_key);
  if (!in) fail("cannot read the public key {}", public_key);
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line);
  std::string type, blob;
  fields >> type >> blob;
  const bool known_type = type.starts_with("ssh-") || type.starts_with("ecdsa-") || type.starts_with("sk-");
  if (!known_type || blob.size() < 16 || line.find_first_of("\r\t") != std::string::npos)
    fail("{} is not an OpenSSH public key (expected a line like `ssh-ed25519 AAAA... comment`)", public_key);
  if (authorized_keys.empty() || authorized_keys.find('\n') != std::string::npos)
    fail("--authorized-keys must be a remote file path");
  // Matching on the key blob alone: the same key with another comment is the same key.
  const std::string file = shell_quote(authorized_keys);
  const std::string script = fmt::format(
      "umask 077 && mkdir -p -- \"$(dirname -- {file})\" && touch -- {file} || exit\n"
      "if grep -qF -- {blob} {file}; then echo present; else printf '%s\\n' {line} >> {file} && echo added; fi\n",
      fmt::arg("file", file), fmt::arg("blob", shell_quote(" " + blob)), fmt::arg("line", shell_quote(line)));
  const auto output = ssh.check(script, "installing the public key");
  const auto& instance = ssh.instance();
  if (output.starts_with("present"))
    fmt::print("{}: {} is already in {}\n", instance.name, public_key, authorized_keys);
  else
    fmt::print("{}: added {} to {}\n", instance.name, public_key, authorized_keys);
}

}  // namespace alpha::fleet
