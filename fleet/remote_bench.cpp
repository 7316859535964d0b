// Remote benchmark runs recorded locally (see remote_bench.h).
#include "fleet/remote_bench.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "common/error.h"
#include "fleet/deploy.h"
#include "fleet/remote_dir.h"
#include "fleet/shell_quote.h"
#include "perf/history.h"

namespace alpha::fleet {

std::string remote_bench(Ssh& ssh, const std::vector<std::string>& flags, std::string json_path) {
  namespace fs = std::filesystem;
  for (const auto& flag : flags)
    for (const char* own : {"--json", "--record", "--vs-torch"})
      if (flag == own || flag.starts_with(std::string(own) + "="))
        fail("{} is set by alpha fleet bench itself; use --json on `alpha fleet bench` for the local report", own);
  const auto& instance = ssh.instance();
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  const std::string stamp = fmt::format("{:%Y%m%d-%H%M%S}", fmt::gmtime(now));
  if (json_path.empty()) json_path = fmt::format("runs/fleet-bench/{}-{}.json", instance.name, stamp);
  const std::string history_file = perf::history_path();
  perf::read_history(history_file);  // a malformed local history fails now, not after the benchmark
  const fs::path json_local(json_path);
  std::error_code error;
  if (json_local.has_parent_path()) fs::create_directories(json_local.parent_path(), error);
  if (error) fail("cannot create {}: {}", json_local.parent_path().string(), error.message());

  deploy(ssh);
  const std::string remote_json = fmt::format("bench/{}.json", stamp), remote_csv = fmt::format("bench/{}.csv", stamp);
  std::vector<std::string> argv = {"env",        "ALPHA_HISTORY=" + remote_csv, "./alpha", "bench",
                                   "--vs-torch", "--json=" + remote_json,       "--record"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::string command = fmt::format("{} && mkdir -p bench && {}", enter_deploy_dir(instance), shell_join(argv));
  if (int status = ssh.interactive(command, false); status != 0)
    fail("{}: alpha bench failed there (exit status {})", instance.name, status);

  ssh.download(remote_path(instance, remote_json), json_path);
  const fs::path csv_local = fs::temp_directory_path() / fmt::format("alpha-fleet-bench-{}.csv", getpid());
  std::vector<perf::HistoryRow> rows;
  try {
    ssh.download(remote_path(instance, remote_csv), csv_local.string());
    rows = perf::read_history(csv_local.string());
  } catch (...) {
    fs::remove(csv_local, error);
    throw;
  }
  fs::remove(csv_local, error);
  perf::append_history(history_file, rows);
  fmt::print("{}: report in {}; recorded {} rows in {}\n", instance.name, json_path, rows.size(), history_file);
  return json_path;
}

}  // namespace alpha::fleet
