// fleet.json: the remote machines `alpha fleet` drives, parsed and validated. Every error names the
// file, the instance and the field. Connecting to the machines is left to fleet/ssh.h.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace alpha::fleet {

struct Instance {
  std::string name;  // [A-Za-z0-9._-]+, unique in the file; only ever used locally
  std::string host;  // host name or IP address
  int port = 22;
  std::string user;
  std::string key;         // private key path, ~ expanded, relative paths from the fleet file's folder
  std::string deploy_dir;  // remote folder for the binary, runs/, data/ and cache/; relative: from the
                           // remote home ("~/x" is taken as "x")
  std::string gpu;         // optional label, shown by `status`
  // Default flags for `alpha train` there, in file order: {"model", "d12"} -> --model=d12; a bare flag
  // (JSON true) has an empty value. Flags given on the command line replace those of the same name.
  std::vector<std::pair<std::string, std::string>> train_flags;

  std::string where() const;  // "user@host:port"
};

struct Fleet {
  std::filesystem::path path;
  std::vector<Instance> instances;

  // The instance called `name`; throws alpha::Error listing the known names when there is none.
  const Instance& find(const std::string& name) const;
};

// The fleet file to use: `option` (--fleet) when given, else ALPHA_FLEET, else ./fleet.json.
std::filesystem::path fleet_path(const std::string& option);

// Reads and validates the fleet file; throws alpha::Error naming the file and the bad field.
Fleet load_fleet(const std::filesystem::path& path);

// Parses fleet JSON text; `origin` names it in errors, relative key paths are taken from `base_dir`.
Fleet parse_fleet(const std::string& text, const std::string& origin, const std::filesystem::path& base_dir);

// The `alpha train` flags alpha fleet sets itself on the remote (run, runs-dir, resume, cache-dir):
// neither the fleet file's "train" nor the command line may give them.
bool is_fleet_train_flag(std::string_view name);

// True for names of instances and runs: [A-Za-z0-9._-]+, not "." or "..", at most 64 characters.
bool is_plain_name(const std::string& name);

}  // namespace alpha::fleet
