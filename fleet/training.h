// Training on an instance: `alpha fleet train` and `resume` start `alpha train` detached (setsid,
// nohup, no terminal) so it outlives the SSH session, with fleet.pid and train.log in the remote run
// directory; `stop` sends SIGINT (the trainer checkpoints and exits) and escalates after a timeout;
// `logs` shows train.log.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "fleet/ssh.h"

namespace alpha::fleet {

struct TrainRequest {
  std::string run;                       // empty: fleet-<UTC date>-<time>
  std::vector<std::string> data;         // remote paths, relative to the deployDir or absolute
  std::vector<std::string> upload_data;  // local files, uploaded to data/ first (when changed)
  std::vector<std::string> flags;        // more `alpha train` flags, e.g. {"--steps", "100"}
  bool force = false;                    // start even when another run is training there
};

// The instance's default train flags with `flags` appended, minus the defaults that `flags` (or
// `data`, when not empty) give again. Throws alpha::Error for flags alpha fleet sets itself.
std::vector<std::string> merge_train_flags(const std::vector<std::pair<std::string, std::string>>& defaults,
                                           const std::vector<std::string>& flags, const std::vector<std::string>& data);

// Starts a new run; returns its name.
std::string start_training(Ssh& ssh, const TrainRequest& request);

// Continues `run` (empty: the newest run alpha fleet started there) from its newest checkpoint.
std::string resume_training(Ssh& ssh, std::string run, const std::vector<std::string>& flags, bool force);

// Stops `run` (empty: the newest): SIGINT, then after `timeout_s` SIGTERM and SIGKILL.
void stop_training(Ssh& ssh, std::string run, int timeout_s);

// Prints the last `lines` of train.log, following it when `follow`; returns the exit status of tail.
int show_logs(Ssh& ssh, std::string run, int lines, bool follow);

// The newest run alpha fleet started on the instance; throws alpha::Error when there is none.
std::string latest_run(Ssh& ssh);

}  // namespace alpha::fleet
