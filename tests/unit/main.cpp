// doctest main for the engine tests: one validated Vulkan context for the whole run; any validation
// message fails the run, even one that arrives while the context is torn down.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

static vk::ValidationLog messages;  // outlives the context, so teardown messages count too
static std::unique_ptr<vk::Context> context;

vk::Context& gpu() {
  if (!context) {
    context = std::make_unique<vk::Context>(validated(messages));
    MESSAGE("device: " << context->info().name << " (" << context->info().driver_name << ")");
  }
  return *context;
}

size_t validation_message_count() { return messages.count(); }

void shutdown_gpu() {
  context.reset();
}

}  // namespace alpha::test

int main(int argc, char** argv) {
  setenv("ALPHA_PIPELINE_CACHE", "0", 0);  // tests start cold; the cache has its own test
  doctest::Context doctest_context(argc, argv);
  int rc = doctest_context.run();
  alpha::test::shutdown_gpu();
  size_t messages = alpha::test::validation_message_count();
  if (messages > 0) {
    std::fprintf(stderr, "FAILED: the Vulkan validation layer reported %zu message(s)\n", messages);
    if (rc == 0) rc = 1;
  }
  return rc;
}
