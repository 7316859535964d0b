// Local process running with posix_spawn (see process.h).
#include "fleet/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "common/error.h"

extern char** environ;

namespace alpha::fleet {

namespace {

struct FileCloser {
  void operator()(FILE* file) const { std::fclose(file); }
};
using TempFile = std::unique_ptr<FILE, FileCloser>;

TempFile temp_file() {
  TempFile file(std::tmpfile());
  if (!file) fail("cannot create a temporary file: {}", std::strerror(errno));
  // Not inherited by other children (an SSH master started meanwhile would keep it for minutes); the
  // child that gets it gets a dup2'd copy, which does not carry the flag.
  fcntl(fileno(file.get()), F_SETFD, FD_CLOEXEC);
  return file;
}

std::string read_all(FILE* file) {
  std::string text;
  std::rewind(file);
  char buffer[65536];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;) text.append(buffer, n);
  return text;
}

// posix_spawn_file_actions_t with its destroy tied to scope.
struct FileActions {
  posix_spawn_file_actions_t actions;
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessIo& io) {
  FileActions file_actions;
  auto* actions = &file_actions.actions;
  if (io.in == Stdin::Null) posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0);
  if (io.in == Stdin::File) {
    if (access(io.in_path.c_str(), R_OK) != 0) fail("cannot read {}: {}", io.in_path, std::strerror(errno));
    posix_spawn_file_actions_addopen(actions, 0, io.in_path.c_str(), O_RDONLY, 0);
  }
  TempFile out, err;
  if (io.out == Stdout::Capture) {
    out = temp_file();
    posix_spawn_file_actions_adddup2(actions, fileno(out.get()), 1);
  }
  if (io.out == Stdout::File)
    posix_spawn_file_actions_addopen(actions, 1, io.out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (io.capture_err) {
    err = temp_file();
    posix_spawn_file_actions_adddup2(actions, fileno(err.get()), 2);
  }

  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = 0;
  if (int error = posix_spawnp(&pid, args[0], actions, nullptr, args.data(), environ))
    fail("cannot run {}: {}", argv[0], std::strerror(error));
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0)
    if (errno != EINTR) fail("waiting for {} failed: {}", argv[0], std::strerror(errno));

  ProcessResult result;
  result.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  if (out) result.out = read_all(out.get());
  if (err) result.err = read_all(err.get());
  return result;
}

}  // namespace alpha::fleet
