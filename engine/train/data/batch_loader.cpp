// Epoch orders come from a Fisher-Yates shuffle driven by splitmix64 (not std::shuffle, whose
// algorithm differs between standard libraries), so the order is the same everywhere.
#include "engine/train/data/batch_loader.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace alpha::train::data {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in [0, n) without modulo bias (Lemire's method with rejection).
uint64_t below(uint64_t& rng, uint64_t n) {
  while (true) {
    unsigned __int128 m = (unsigned __int128)splitmix64(rng) * n;
    uint64_t low = uint64_t(m);
    if (low >= n || low >= (-n) % n) return uint64_t(m >> 64);
  }
}

}  // namespace

nlohmann::json to_json(const LoaderState& s) {
  return {{"seed", s.seed}, {"epoch", s.epoch}, {"index", s.index}, {"windows", s.windows}};
}

LoaderState loader_state_from_json(const nlohmann::json& j) {
  try {
    return {j.at("seed").get<uint64_t>(), j.at("epoch").get<uint64_t>(),
            j.at("index").get<uint64_t>(), j.at("windows").get<uint64_t>()};
  } catch (const nlohmann::json::exception& e) {
    fail("data loader state is malformed: {}", e.what());
  }
}

BatchLoader::BatchLoader(std::vector<uint32_t> tokens, size_t B, size_t T, uint64_t seed)
    : tokens_(std::move(tokens)), B_(B), T_(T) {
  if (B == 0 || T == 0) fail("batch size and sequence length must be positive");
  if (tokens_.size() < T + 1)
    fail(
        "the data has {} tokens, too few for one sequence of {} + 1; use more text or a "
        "shorter sequence length",
        tokens_.size(), T);
  for (uint32_t t : tokens_)
    if (t > uint32_t(INT32_MAX)) fail("token id {} does not fit int32", t);
  windows_ = (tokens_.size() - 1) / T;
  if (windows_ > UINT32_MAX) fail("too many windows ({}) for the loader", windows_);
  state_ = {seed, 0, 0, windows_};
}

void BatchLoader::shuffle_epoch() {
  if (order_epoch_ == state_.epoch) return;
  order_.resize(windows_);
  for (uint64_t i = 0; i < windows_; ++i) order_[i] = uint32_t(i);
  uint64_t rng = state_.seed ^ (state_.epoch * 0xD1B54A32D192ED03ull);
  splitmix64(rng);
  for (uint64_t i = windows_ - 1; i > 0; --i) std::swap(order_[i], order_[below(rng, i + 1)]);
  order_epoch_ = state_.epoch;
}

void BatchLoader::next(std::span<int32_t> out) {
  if (out.size() != B_ * (T_ + 1))
    fail("internal: batch buffer holds {} ids, expected B*(T+1) = {}", out.size(), B_ * (T_ + 1));
  for (size_t b = 0; b < B_; ++b) {
    if (state_.index == windows_) {
      ++state_.epoch;
      state_.index = 0;
    }
    shuffle_epoch();
    const uint64_t start = uint64_t(order_[state_.index++]) * T_;
    const uint32_t* src = tokens_.data() + start;
    int32_t* dst = out.data() + b * (T_ + 1);
    for (size_t t = 0; t <= T_; ++t) dst[t] = int32_t(src[t]);
  }
}

std::vector<int32_t> BatchLoader::next() {
  std::vector<int32_t> out(B_ * (T_ + 1));
  next(out);
  return out;
}

void BatchLoader::restore(const LoaderState& state) {
  if (state.windows != windows_)
    fail(
        "the data loader state is for {} windows per epoch but this data has {}: the data, "
        "tokenizer or sequence length changed since the checkpoint",
        state.windows, windows_);
  if (state.index > windows_) fail("data loader state is corrupt (index past the epoch)");
  state_ = state;
}

}  // namespace alpha::train::data
