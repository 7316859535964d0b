// Names and hints for failed Vulkan results (see check.h).
#include "engine/vk/check.h"

#include <cstring>

namespace alpha::vk {

const char* result_name(VkResult result) {
  switch (result) {
#define ALPHA_RESULT_NAME(r) \
  case r:                    \
    return #r;
    ALPHA_RESULT_NAME(VK_SUCCESS)
    ALPHA_RESULT_NAME(VK_NOT_READY)
    ALPHA_RESULT_NAME(VK_TIMEOUT)
    ALPHA_RESULT_NAME(VK_INCOMPLETE)
    ALPHA_RESULT_NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
    ALPHA_RESULT_NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    ALPHA_RESULT_NAME(VK_ERROR_INITIALIZATION_FAILED)
    ALPHA_RESULT_NAME(VK_ERROR_DEVICE_LOST)
    ALPHA_RESULT_NAME(VK_ERROR_MEMORY_MAP_FAILED)
    ALPHA_RESULT_NAME(VK_ERROR_LAYER_NOT_PRESENT)
    ALPHA_RESULT_NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
    ALPHA_RESULT_NAME(VK_ERROR_FEATURE_NOT_PRESENT)
    ALPHA_RESULT_NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
    ALPHA_RESULT_NAME(VK_ERROR_TOO_MANY_OBJECTS)
    ALPHA_RESULT_NAME(VK_ERROR_FORMAT_NOT_SUPPORTED)
    ALPHA_RESULT_NAME(VK_ERROR_FRAGMENTED_POOL)
    ALPHA_RESULT_NAME(VK_ERROR_OUT_OF_POOL_MEMORY)
    ALPHA_RESULT_NAME(VK_ERROR_UNKNOWN)
#undef ALPHA_RESULT_NAME
    default:
      return "VkResult(unknown)";
  }
}

static const char* hint_for(VkResult result) {
  switch (result) {
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      return " (the device is out of memory: use a smaller model or batch)";
    case VK_ERROR_OUT_OF_HOST_MEMORY:
      return " (the host is out of memory)";
    case VK_ERROR_DEVICE_LOST:
      return " (the GPU driver reset the device: a kernel faulted or hung; check the driver log)";
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      return " (no installed Vulkan driver supports Vulkan 1.2: install mesa-vulkan-drivers or a GPU driver)";
    case VK_ERROR_LAYER_NOT_PRESENT:
      return " (install vulkan-validationlayers, or run without validation)";
    default:
      return "";
  }
}

void throw_vk_error(VkResult result, const char* call, const char* file, int line) {
  const char* base = std::strrchr(file, '/');
  fail("Vulkan call failed: {} returned {} at {}:{}{}", call, result_name(result),
       base ? base + 1 : file, line, hint_for(result));
}

}  // namespace alpha::vk
