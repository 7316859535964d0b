// What alpha fleet keeps in an instance's deployDir, and the shell snippets that reach it:
//   alpha                 the deployed binary
//   runs/<run>/           alpha train's run directory, plus fleet.pid and train.log
//   data/                 training data uploaded with `fleet train --upload-data`
//   cache/                token shards
//   bench/                `fleet bench` results before they are copied back
// Every path that goes into a command line is quoted here or by the caller.
#pragma once

#include <string>

#include "fleet/config.h"

namespace alpha::fleet {

// A remote path under the deployDir (`relative` empty: the deployDir itself), as ssh's working
// directory (the remote home) sees it. Not quoted.
std::string remote_path(const Instance& instance, const std::string& relative = "");

// Shell: cd into the deployDir, creating it when `create`; else exit 3 with a message that says to
// deploy first.
std::string enter_deploy_dir(const Instance& instance, bool create = false);

// Shell: defines `alpha_running PIDFILE`, true when the pid in PIDFILE is a live process named alpha;
// it leaves that pid in $pid.
extern const char* const kAlphaRunningFunction;

// The run directory of `run`, relative to the deployDir. Throws alpha::Error for a name that is not
// plain ([A-Za-z0-9._-]+).
std::string run_dir(const std::string& run);

}  // namespace alpha::fleet
