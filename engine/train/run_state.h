// Whether a run is training now, finished or stopped. While it trains, the trainer holds an
// exclusive flock on the run's config.json (TrainingLock); anyone may test for it without blocking.
// The kernel drops the lock when the trainer exits or dies, so a killed trainer never leaves a
// stale "training" (unlike a pid file, whose pid another process may reuse), and a second trainer
// of the same run is refused. `alpha serve`'s runs dashboard reads states through here.
#pragma once

#include <filesystem>
#include <string_view>

namespace alpha::train {

enum class RunState {
  training,  // a trainer holds the run's lock
  finished,  // no trainer, and metrics.jsonl reached the run's last step
  stopped,   // no trainer, and it stopped before the last step (a stop request, an error, a kill)
};

std::string_view run_state_name(RunState state);

// Held by the trainer for as long as it trains the run in run_dir (which has its config.json).
// Throws alpha::Error when another process trains that run.
class TrainingLock {
 public:
  explicit TrainingLock(const std::filesystem::path& run_dir);
  TrainingLock(TrainingLock&& other) noexcept;
  TrainingLock& operator=(TrainingLock&&) = delete;
  TrainingLock(const TrainingLock&) = delete;
  ~TrainingLock();

 private:
  int fd_ = -1;
};

// True while a TrainingLock on run_dir is held, by any process.
bool run_is_training(const std::filesystem::path& run_dir);

// The state of the run in run_dir whose metrics.jsonl's last step is last_step of `steps`.
RunState run_state(const std::filesystem::path& run_dir, int last_step, int steps);

}  // namespace alpha::train
