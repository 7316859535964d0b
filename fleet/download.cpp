// Run directory download with skip-if-complete (see download.h).
#include "fleet/download.h"

#include <fmt/format.h>
#include <unistd.h>

#include <sstream>

#include "common/error.h"
#include "fleet/deploy.h"
#include "fleet/remote_dir.h"
#include "fleet/shell_quote.h"

namespace alpha::fleet {

namespace {

// A relative path from the remote listing that stays inside the run directory.
bool is_safe_relative(const std::filesystem::path& path) {
  if (path.empty() || path.is_absolute()) return false;
  for (const auto& part : path)
    if (part == ".." || part.empty()) return false;
  return true;
}

}  // namespace

std::pair<std::string, std::string> parse_sha256sum_line(const std::string& line) {
  const bool escaped = line.starts_with("\\");
  const std::string rest = escaped ? line.substr(1) : line;
  if (rest.size() < 66 || rest[64] != ' ' || (rest[65] != ' ' && rest[65] != '*')) return {"", ""};
  std::string name;
  const std::string raw = rest.substr(66);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (escaped && raw[i] == '\\' && i + 1 < raw.size()) {
      ++i;
      name += raw[i] == 'n' ? '\n' : raw[i];
    } else {
      name += raw[i];
    }
  }
  return {rest.substr(0, 64), name};
}

DownloadSummary download_run(Ssh& ssh, const std::string& run, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  const auto& instance = ssh.instance();
  const std::string dir = run_dir(run);
  const std::string listing =
      ssh.check(fmt::format("{} && {{ cd -- {} 2>/dev/null || {{ echo {} >&2; exit 3; }}; }} && "
                            "find . -type f -print0 | xargs -0r sha256sum --",
                            enter_deploy_dir(instance), shell_quote(dir),
                            shell_quote(fmt::format("there is no run {} in {}", run, remote_path(instance, "runs")))),
                "listing run " + run);
  DownloadSummary summary;
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    const auto [hash, name] = parse_sha256sum_line(line);
    const fs::path relative = fs::path(name).lexically_normal();
    if (hash.empty() || !is_safe_relative(relative))
      fail("{}: unexpected line in the file list: {}", instance.name, line);
    const fs::path local = to / relative;
    if (fs::is_regular_file(local) && local_sha256(local.string()) == hash) {
      ++summary.complete;
      continue;
    }
    std::error_code error;
    fs::create_directories(local.parent_path(), error);
    if (error) fail("cannot create {}: {}", local.parent_path().string(), error.message());
    const fs::path part = local.parent_path() / fmt::format(".{}.part-{}", local.filename().string(), getpid());
    const std::string remote = dir + "/" + relative.string();
    try {
      ssh.download(remote_path(instance, remote), part.string());
    } catch (const Error&) {
      fs::remove(part, error);
      // A live run prunes old checkpoints: a file gone since the listing is skipped, not an error.
      if (ssh.run(fmt::format("{} && [ -e {} ]", enter_deploy_dir(instance), shell_quote(remote))).status == 0) throw;
      fmt::print("{}: {} was removed there while the run was copied; skipped\n", instance.name, relative.string());
      continue;
    }
    if (local_sha256(part.string()) != hash)
      fmt::print("{}: {} changed while it was copied (a live run writes it); run download again for the newest\n",
                 instance.name, relative.string());
    summary.bytes += fs::file_size(part, error);
    fs::rename(part, local, error);
    if (error) fail("cannot write {}: {}", local.string(), error.message());
    ++summary.copied;
  }
  return summary;
}

}  // namespace alpha::fleet
