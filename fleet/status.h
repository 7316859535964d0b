// `alpha fleet status`: one row per instance (reachable, deployed binary vs this one, the latest
// run and whether it is training, its last step and loss, GPU utilisation and memory from
// nvidia-smi), gathered by one SSH command per instance, all instances at once.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "fleet/ssh.h"

namespace alpha::fleet {

struct InstanceStatus {
  std::string name, where, gpu_label;
  std::string error;     // non-empty: the instance could not be queried; the rest is unset
  std::string binary;    // "current", "differs" or "missing"
  std::string version;   // the deployed binary's --version
  std::string run;       // the newest run started by alpha fleet; empty: none
  bool running = false;  // that run's trainer is alive
  std::optional<int> step;
  std::optional<double> loss;
  std::vector<std::string> gpus;  // nvidia-smi: "util %, used/total MiB" per GPU; empty: no nvidia-smi
};

// Fills `status` from the remote status script's key=value lines (sha256=, version=, run=, running=,
// metrics= with the last metrics.jsonl line, gpu= with nvidia-smi's "util, used, total" CSV).
void parse_status(const std::string& output, const std::string& local_sha256, InstanceStatus& status);

// Queries one instance; connection failures land in `error`, never thrown.
InstanceStatus query_status(Ssh& ssh, const std::string& local_sha256);

// Queries every instance in parallel, in the order given.
std::vector<InstanceStatus> query_statuses(const std::vector<Instance>& instances, const SshSettings& settings);

// The table, then one line per instance that could not be queried.
std::string format_status(const std::vector<InstanceStatus>& statuses);

}  // namespace alpha::fleet
