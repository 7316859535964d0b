// The test suite's one Vulkan context (validation + synchronization validation on) and a fixture
// that fails the running test case when the validation layer reported anything during it.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "common/error.h"
#include "engine/vk/context.h"

namespace alpha::test {

vk::Context& gpu();
// Options for a context of a test's own, with validation on and its messages in `log`.
inline vk::ContextOptions validated(vk::ValidationLog& log) {
  vk::ContextOptions options;
  options.validation = true;
  options.validation_log = &log;
  return options;
}
void shutdown_gpu();
size_t validation_message_count();

struct GpuFixture {
  size_t messages_before = validation_message_count();
  ~GpuFixture() {
    CHECK_MESSAGE(validation_message_count() == messages_before,
                  "the Vulkan validation layer reported messages during this test (printed above)");
  }
};

// Uniform in [-1, 1] but never exactly 0, so a kernel that skips an element cannot pass by luck.
inline std::vector<float> random_nonzero(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.05f, 1.0f);
  std::bernoulli_distribution negative(0.5);
  std::vector<float> v(n);
  for (auto& x : v) x = negative(rng) ? -dist(rng) : dist(rng);
  return v;
}

}  // namespace alpha::test
