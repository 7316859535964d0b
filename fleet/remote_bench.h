// `alpha fleet bench`: deploys, runs `alpha bench --vs-torch --json --record` on the instance (into
// a history file of its own there), copies the JSON report back and appends the rows to the local
// perf/history.csv through perf/history.h.
#pragma once

#include <string>
#include <vector>

#include "fleet/ssh.h"

namespace alpha::fleet {

// `flags`: more `alpha bench` flags; `json_path`: where the report lands here (empty: a default
// under runs/fleet-bench/). Returns the report's local path.
std::string remote_bench(Ssh& ssh, const std::vector<std::string>& flags, std::string json_path);

}  // namespace alpha::fleet
