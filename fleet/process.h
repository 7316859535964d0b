// Runs a local program (ssh, sha256sum) and waits for it: stdin from /dev/null, the terminal or a
// file; stdout and stderr inherited, captured or written to a file. Captured output goes through
// temporary files, not pipes, so a background process that keeps them open (an SSH control master)
// cannot make the caller wait.
#pragma once

#include <string>
#include <vector>

namespace alpha::fleet {

enum class Stdin { Null, Inherit, File };
enum class Stdout { Inherit, Capture, File };

struct ProcessIo {
  Stdin in = Stdin::Null;
  std::string in_path;  // for Stdin::File
  Stdout out = Stdout::Capture;
  std::string out_path;     // for Stdout::File (created or truncated)
  bool capture_err = true;  // else stderr is inherited
};

struct ProcessResult {
  int status = 0;  // the exit status; 128 + N when killed by signal N
  std::string out, err;
};

// Runs argv[0] (searched on PATH). Throws alpha::Error when it cannot be started.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessIo& io = {});

}  // namespace alpha::fleet
