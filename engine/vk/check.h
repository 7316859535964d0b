// VK_CHECK: turns a failed Vulkan call into an alpha::Error naming the call, the result, the
// source line and, for the results a user can act on, what to do next.
#pragma once

#include <volk.h>

#include "common/error.h"

namespace alpha::vk {

const char* result_name(VkResult result);

[[noreturn]] void throw_vk_error(VkResult result, const char* call, const char* file, int line);

}  // namespace alpha::vk

#define VK_CHECK(call)                                                              \
  do {                                                                              \
    VkResult vk_check_result_ = (call);                                             \
    if (vk_check_result_ < 0)                                                       \
      ::alpha::vk::throw_vk_error(vk_check_result_, #call, __FILE__, __LINE__);     \
  } while (0)
