// The Vulkan instance: loads libvulkan.so.1 at run time (volk), creates the instance and, when asked,
// the Khronos validation layer with synchronization validation, whose messages are recorded.
// Device choice and the logical device live in context.h.
#pragma once

#include <volk.h>

#include <mutex>
#include <string>
#include <vector>

namespace alpha::vk {

// Messages from the validation layer, recorded so tests can fail on any of them.
class ValidationLog {
 public:
  void add(std::string message);
  std::vector<std::string> messages() const;
  size_t count() const;
  bool echo_to_stderr = true;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

class Instance {
 public:
  // Validation messages go to `log` when given (it must outlive the instance), else to an own log.
  explicit Instance(bool validation, ValidationLog* log = nullptr);
  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  VkInstance handle() const { return instance_; }
  bool validation() const { return messenger_ != VK_NULL_HANDLE; }
  ValidationLog& validation_log() { return *log_; }

 private:
  ValidationLog own_log_;  // outlives the messenger that writes to it
  ValidationLog* log_;
  VkInstance instance_ = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
};

// Loads the Vulkan loader (ALPHA_VULKAN_LOADER overrides the library path) exactly once;
// throws alpha::Error with install advice when it is missing.
void load_vulkan_loader();

}  // namespace alpha::vk
