// A run's state from its trainer's lock on config.json and its last step (see run_state.h).
#include "engine/train/run_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/error.h"

namespace alpha::train {

namespace {

int open_config(const std::filesystem::path& run_dir) {
  return ::open((run_dir / "config.json").c_str(), O_RDONLY | O_CLOEXEC);
}

}  // namespace

std::string_view run_state_name(RunState state) {
  switch (state) {
    case RunState::training:
      return "training";
    case RunState::finished:
      return "finished";
    case RunState::stopped:
      return "stopped";
  }
  return "stopped";
}

TrainingLock::TrainingLock(const std::filesystem::path& run_dir) : fd_(open_config(run_dir)) {
  if (fd_ < 0)
    fail("cannot open {} to lock the run: {}", (run_dir / "config.json").string(),
         std::strerror(errno));
  // A reader testing the lock holds it shared for a moment: retry for a second before calling it
  // taken.
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd_);
  fd_ = -1;
  fail("run {} is being trained by another process: stop that one first", run_dir.string());
}

TrainingLock::TrainingLock(TrainingLock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

TrainingLock::~TrainingLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

bool run_is_training(const std::filesystem::path& run_dir) {
  const int fd = open_config(run_dir);
  if (fd < 0) return false;
  const bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}

RunState run_state(const std::filesystem::path& run_dir, int last_step, int steps) {
  if (run_is_training(run_dir)) return RunState::training;
  return last_step >= steps ? RunState::finished : RunState::stopped;
}

}  // namespace alpha::train
