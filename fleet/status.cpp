// Instance status: one remote script per instance printing key=value lines, and the table (see status.h).
#include "fleet/status.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "fleet/deploy.h"
#include "fleet/remote_dir.h"
#include "fleet/shell_quote.h"

namespace alpha::fleet {

namespace {

// Prints sha256=, version=, run=, running=, metrics= (the last metrics.jsonl line) and gpu= lines;
// nothing about the binary or runs when the deployDir does not exist.
std::string status_script(const Instance& instance) {
  return fmt::format(
      "{running}\n"
      "if command -v nvidia-smi >/dev/null 2>&1; then\n"
      "  nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits "
      "2>/dev/null | sed 's/^/gpu=/'\n"
      "fi\n"
      "cd -- {dir} 2>/dev/null || exit 0\n"
      "if [ -f alpha ]; then\n"
      "  echo \"sha256=$(sha256sum alpha | cut -d' ' -f1)\"\n"
      "  echo \"version=$(./alpha --version 2>&1 | head -n 1)\"\n"
      "fi\n"
      "pidfile=$(ls -t runs/*/fleet.pid 2>/dev/null | head -n 1)\n"
      "if [ -n \"$pidfile\" ]; then\n"
      "  dir=${{pidfile%/fleet.pid}}\n"
      "  echo \"run=${{dir#runs/}}\"\n"
      "  if alpha_running \"$pidfile\"; then echo running=yes; else echo running=no; fi\n"
      "  echo \"metrics=$(tail -n 1 \"$dir/metrics.jsonl\" 2>/dev/null)\"\n"
      "fi\n",
      fmt::arg("running", kAlphaRunningFunction), fmt::arg("dir", shell_quote(remote_path(instance))));
}

}  // namespace

void parse_status(const std::string& output, const std::string& local_sha256, InstanceStatus& status) {
  std::istringstream lines(output);
  status.binary = "missing";
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "sha256") status.binary = value == local_sha256 ? "current" : "differs";
    if (key == "version") status.version = value;
    if (key == "run") status.run = value;
    if (key == "running") status.running = value == "yes";
    if (key == "gpu") {
      int util = 0, used = 0, total = 0;
      if (std::sscanf(value.c_str(), "%d, %d, %d", &util, &used, &total) == 3)
        status.gpus.push_back(fmt::format("{}%, {}/{} MiB", util, used, total));
      else
        status.gpus.push_back(value);  // e.g. "[N/A], 1024, 23034": shown as nvidia-smi gives it
    }
    if (key == "metrics") {
      auto metrics = nlohmann::json::parse(value, nullptr, false);
      if (metrics.is_object() && metrics.contains("step") && metrics["step"].is_number_integer())
        status.step = metrics["step"].get<int>();
      if (metrics.is_object() && metrics.contains("loss") && metrics["loss"].is_number())
        status.loss = metrics["loss"].get<double>();
    }
  }
}

InstanceStatus query_status(Ssh& ssh, const std::string& local_sha256) {
  InstanceStatus status;
  status.name = ssh.instance().name;
  status.where = ssh.instance().where();
  status.gpu_label = ssh.instance().gpu;
  try {
    parse_status(ssh.check(status_script(ssh.instance()), "reading the status"), local_sha256, status);
  } catch (const Error& e) {
    status.error = e.what();
  }
  return status;
}

std::vector<InstanceStatus> query_statuses(const std::vector<Instance>& instances, const SshSettings& settings) {
  const std::string local = local_sha256(local_alpha_path());
  std::vector<InstanceStatus> statuses(instances.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < instances.size(); ++i)
    threads.emplace_back([&, i] {
      try {
        Ssh ssh(instances[i], settings);
        statuses[i] = query_status(ssh, local);
      } catch (const Error& e) {
        statuses[i].name = instances[i].name;
        statuses[i].where = instances[i].where();
        statuses[i].error = e.what();
      }
    });
  for (auto& thread : threads) thread.join();
  return statuses;
}

std::string format_status(const std::vector<InstanceStatus>& statuses) {
  std::vector<std::vector<std::string>> rows = {
      {"INSTANCE", "HOST", "REACHABLE", "BINARY", "RUN", "TRAINING", "STEP", "LOSS", "GPU", "GPU UTIL, MEMORY"}};
  for (const auto& s : statuses) {
    const auto or_dash = [](const std::string& text) { return text.empty() ? std::string("-") : text; };
    std::string gpus;
    for (const auto& gpu : s.gpus) gpus += (gpus.empty() ? "" : "; ") + gpu;
    if (!s.error.empty()) {
      rows.push_back({s.name, s.where, "no", "-", "-", "-", "-", "-", or_dash(s.gpu_label), "-"});
      continue;
    }
    rows.push_back({s.name, s.where, "yes", s.binary, or_dash(s.run),
                    s.run.empty() ? "-"
                    : s.running   ? "running"
                                  : "stopped",
                    s.step ? std::to_string(*s.step) : "-", s.loss ? fmt::format("{:.4f}", *s.loss) : "-",
                    or_dash(s.gpu_label), or_dash(gpus)});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  std::string table;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) line += fmt::format("{:<{}}  ", row[c], widths[c]);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    table += line + "\n";
  }
  for (const auto& s : statuses) {
    if (!s.error.empty())
      table += s.error.starts_with(s.name + ": ") ? s.error + "\n" : fmt::format("{}: {}\n", s.name, s.error);
    else if (s.binary == "differs")
      table +=
          fmt::format("{}: deployed {} differs from this binary (alpha fleet deploy {})\n", s.name, s.version, s.name);
  }
  return table;
}

}  // namespace alpha::fleet
