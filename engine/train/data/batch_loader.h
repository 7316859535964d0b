// Deterministic shuffled batches of (B, T+1) token windows: window k starts at k*T, so inputs
// are row[0..T) and targets row[1..T+1). Each epoch visits every window once in an order drawn
// from (seed, epoch). state()/restore() capture the position so a resumed run continues
// bit-exactly; the state is a small POD with a JSON form for checkpoints.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

namespace alpha::train::data {

struct LoaderState {
  uint64_t seed = 0;
  uint64_t epoch = 0;
  uint64_t index = 0;    // windows already taken in this epoch
  uint64_t windows = 0;  // windows per epoch, to detect a changed dataset on restore
  bool operator==(const LoaderState&) const = default;
};

nlohmann::json to_json(const LoaderState& state);
LoaderState loader_state_from_json(const nlohmann::json& j);  // throws alpha::Error if malformed

class BatchLoader {
 public:
  // Throws alpha::Error if the tokens cannot fill one window of T+1.
  BatchLoader(std::vector<uint32_t> tokens, size_t B, size_t T, uint64_t seed);

  // Fills `out` (B * (T+1) ids, row-major) with the next B windows.
  void next(std::span<int32_t> out);
  std::vector<int32_t> next();

  LoaderState state() const { return state_; }
  // Throws alpha::Error if the state belongs to different data (window count).
  void restore(const LoaderState& state);

  size_t B() const { return B_; }
  size_t T() const { return T_; }
  uint64_t windows_per_epoch() const { return windows_; }
  uint64_t tokens() const { return tokens_.size(); }

 private:
  void shuffle_epoch();

  std::vector<uint32_t> tokens_;
  size_t B_, T_;
  uint64_t windows_;
  std::vector<uint32_t> order_;  // window indices of the current epoch
  uint64_t order_epoch_ = ~uint64_t(0);
  LoaderState state_;
};

}  // namespace alpha::train::data
