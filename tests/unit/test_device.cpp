// Device selection and the pipeline cache on disk.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "engine/ops/elementwise.h"
#include "engine/tensor.h"
#include "engine/vk/context.h"
#include "engine/vk/pipeline.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

static vk::DeviceInfo fake(uint32_t index, VkPhysicalDeviceType type, uint32_t api = VK_API_VERSION_1_3) {
  vk::DeviceInfo d;
  d.index = index;
  d.name = "fake" + std::to_string(index);
  d.type = type;
  d.api_version = api;
  d.compute_queue_family = 0;
  return d;
}

TEST_CASE("device selection prefers a discrete GPU, honours an index and explains refusals") {
  std::vector<vk::DeviceInfo> devices = {fake(0, VK_PHYSICAL_DEVICE_TYPE_CPU),
                                         fake(1, VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU),
                                         fake(2, VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU, VK_API_VERSION_1_1),
                                         fake(3, VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU)};
  CHECK(vk::select_device(devices, std::nullopt).index == 3);
  CHECK(vk::select_device(devices, 0).index == 0);
  CHECK_THROWS_WITH_AS(vk::select_device(devices, 99), doctest::Contains("there is no Vulkan device 99"), alpha::Error);
  CHECK_THROWS_WITH_AS(vk::select_device(devices, 2), doctest::Contains("needs 1.2"), alpha::Error);
  devices.pop_back();
  CHECK(vk::select_device(devices, std::nullopt).index == 1);  // the old discrete GPU is skipped
  CHECK_THROWS_WITH_AS(vk::select_device({}, std::nullopt), doctest::Contains("no Vulkan device found"), alpha::Error);
}

TEST_CASE("the validation layer is on in tests and its messages are counted") {
  // The suite fails on any validation message; this proves such a message is seen at all.
  vk::ValidationLog log;
  log.echo_to_stderr = false;
  vk::Context context(validated(log));
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = 0;  // invalid: VUID-VkBufferCreateInfo-size-00912
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  VkBuffer buffer = VK_NULL_HANDLE;
  if (vkCreateBuffer(context.device(), &info, nullptr, &buffer) == VK_SUCCESS && buffer)
    vkDestroyBuffer(context.device(), buffer, nullptr);
  CHECK(log.count() > 0);
}

TEST_CASE("ALPHA_DEVICE must be an index") {
  setenv("ALPHA_DEVICE", "abc", 1);
  CHECK_THROWS_WITH_AS(vk::device_index_from_env(), doctest::Contains("ALPHA_DEVICE=abc"), alpha::Error);
  setenv("ALPHA_DEVICE", "1", 1);
  CHECK(vk::device_index_from_env() == 1);
  unsetenv("ALPHA_DEVICE");
  CHECK_FALSE(vk::device_index_from_env().has_value());
}

TEST_CASE("the pipeline cache is written, reused, and a corrupt one is ignored") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("alpha-cache-test-" + std::to_string(getpid()));
  fs::remove_all(dir);
  setenv("ALPHA_CACHE_DIR", dir.c_str(), 1);
  setenv("ALPHA_PIPELINE_CACHE", "1", 1);
  vk::ValidationLog log;
  const auto options = validated(log);
  fs::path cache;
  auto run_once = [&] {
    vk::Context context(options);
    cache = context.pipelines().cache_path();
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {10});
    vk::CommandStream stream(context);
    ops::fill(stream, x, 7.0f);
    stream.submit();
    CHECK(download(arena, x)[9] == 7.0f);
  };
  run_once();
  REQUIRE(fs::exists(cache));
  CHECK(cache.parent_path() == dir);
  CHECK(fs::file_size(cache) > 24);
  run_once();  // warm start from the file
  {
    std::fstream f(cache, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('\x5a');
  }
  run_once();  // the checksum no longer matches: a cold start, not a crash
  fs::remove_all(dir);
  unsetenv("ALPHA_CACHE_DIR");
  setenv("ALPHA_PIPELINE_CACHE", "0", 1);
  CHECK(log.count() == 0);
}

}  // namespace alpha::test
