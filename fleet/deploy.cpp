// Deploying the binary and uploading files by content hash (see deploy.h).
#include "fleet/deploy.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/error.h"
#include "fleet/remote_dir.h"
#include "fleet/shell_quote.h"

namespace alpha::fleet {

namespace {

// The hash at the start of a `sha256sum` output line; empty when there is none.
std::string first_hash(const std::string& output) {
  const auto hash = output.substr(0, output.find_first_of(" \n"));
  return hash.size() == 64 ? hash : "";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string local_sha256(const std::string& path) {
  auto result = run_process({"sha256sum", "--", path});
  const auto hash = first_hash(result.out);
  if (result.status != 0 || hash.empty()) fail("cannot compute the SHA-256 of {}: {}", path, trimmed(result.err));
  return hash;
}

std::string local_alpha_path() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) fail("cannot find the running alpha binary (/proc/self/exe): {}", error.message());
  return path.string();
}

UploadResult upload_if_changed(Ssh& ssh, const std::string& local, const std::string& remote, bool executable) {
  namespace fs = std::filesystem;
  UploadResult result;
  std::error_code error;
  result.bytes = fs::file_size(local, error);
  if (error) fail("cannot read {}: {}", local, error.message());
  result.sha256 = local_sha256(local);
  const fs::path target(remote);
  const std::string parent = target.parent_path().empty() ? "." : target.parent_path().string();
  const std::string enter = enter_deploy_dir(ssh.instance(), true);
  const auto remote_hash =
      first_hash(ssh.check(fmt::format("{} && mkdir -p -- {} && {{ sha256sum -- {} 2>/dev/null || true; }}", enter,
                                       shell_quote(parent), shell_quote(remote)),
                           "reading the SHA-256 of " + remote));
  if (remote_hash == result.sha256) return result;

  const std::string temp =
      (fs::path(parent) / fmt::format(".{}.upload-{}", target.filename().string(), getpid())).string();
  const std::string q_temp = shell_quote(temp);
  const auto discard = [&] { ssh.run(fmt::format("{} && rm -f -- {}", enter, q_temp)); };
  try {
    ssh.upload(local, remote_path(ssh.instance(), temp));
  } catch (const Error&) {
    try {
      discard();  // a partial copy; when the connection is gone, the hidden name stays behind harmlessly
    } catch (const Error&) {
    }
    throw;
  }
  const auto copied_hash = first_hash(ssh.check(
      fmt::format("{} && chmod {} -- {} && sha256sum -- {}", enter, executable ? "755" : "644", q_temp, q_temp),
      "checking the uploaded " + remote));
  if (copied_hash != result.sha256) {
    discard();
    fail("{}: the uploaded copy of {} has SHA-256 {}, not {}: the transfer was damaged; try again", ssh.instance().name,
         local, copied_hash, result.sha256);
  }
  if (executable) {
    auto run = ssh.run(fmt::format("{} && ./{} --version", enter, q_temp));
    if (run.status != 0) {
      discard();
      fail(
          "{}: {} does not run there (exit status {}): {}; is the remote machine Linux on the same CPU "
          "architecture?",
          ssh.instance().name, local, run.status, trimmed(run.err + run.out));
    }
  }
  ssh.check(fmt::format("{} && mv -f -- {} {}", enter, q_temp, shell_quote(remote)), "renaming the upload into place");
  result.uploaded = true;
  return result;
}

void deploy(Ssh& ssh) {
  const auto& instance = ssh.instance();
  const auto start = std::chrono::steady_clock::now();
  const auto result = upload_if_changed(ssh, local_alpha_path(), "alpha", true);
  const std::string where = remote_path(instance, "alpha");
  if (!result.uploaded) {
    fmt::print("{}: {} is up to date (sha256 {})\n", instance.name, where, result.sha256.substr(0, 12));
    return;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto version = trimmed(
      ssh.check(fmt::format("{} && ./alpha --version", enter_deploy_dir(instance)), "running the deployed alpha"));
  fmt::print("{}: deployed {} ({:.1f} MB, sha256 {}) in {:.1f} s: {}\n", instance.name, where, result.bytes / 1e6,
             result.sha256.substr(0, 12), seconds, version);
}

}  // namespace alpha::fleet
