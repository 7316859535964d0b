// Vulkan loader and instance creation (see instance.h).
#include "engine/vk/instance.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/vk/check.h"

namespace alpha::vk {

void ValidationLog::add(std::string message) {
  std::lock_guard lock(mutex_);
  if (echo_to_stderr) std::fprintf(stderr, "[vulkan validation] %s\n", message.c_str());
  messages_.push_back(std::move(message));
}

std::vector<std::string> ValidationLog::messages() const {
  std::lock_guard lock(mutex_);
  return messages_;
}

size_t ValidationLog::count() const {
  std::lock_guard lock(mutex_);
  return messages_.size();
}

void load_vulkan_loader() {
  static bool loaded = false;
  if (loaded) return;
  const char* override_path = std::getenv("ALPHA_VULKAN_LOADER");
  const char* path = override_path && *override_path ? override_path : "libvulkan.so.1";
  void* library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!library)
    fail("cannot load the Vulkan loader {}: install it (Debian/Ubuntu: apt-get install libvulkan1 "
         "mesa-vulkan-drivers) or point ALPHA_VULKAN_LOADER at it",
         path);
  auto get_instance_proc =
      reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library, "vkGetInstanceProcAddr"));
  if (!get_instance_proc) fail("{} is not a Vulkan loader: it has no vkGetInstanceProcAddr", path);
  volkInitializeCustom(get_instance_proc);
  loaded = true;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation_message(
    VkDebugUtilsMessageSeverityFlagBitsEXT, VkDebugUtilsMessageTypeFlagsEXT,
    const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
  static_cast<ValidationLog*>(user)->add(data->pMessage ? data->pMessage : "(no message)");
  return VK_FALSE;
}

static bool layer_available(const char* name) {
  uint32_t count = 0;
  vkEnumerateInstanceLayerProperties(&count, nullptr);
  std::vector<VkLayerProperties> layers(count);
  vkEnumerateInstanceLayerProperties(&count, layers.data());
  for (const auto& layer : layers)
    if (std::strcmp(layer.layerName, name) == 0) return true;
  return false;
}

Instance::Instance(bool validation, ValidationLog* log) : log_(log ? log : &own_log_) {
  load_vulkan_loader();
  uint32_t loader_version = VK_API_VERSION_1_0;
  if (vkEnumerateInstanceVersion) vkEnumerateInstanceVersion(&loader_version);
  if (loader_version < VK_API_VERSION_1_2)
    fail("the Vulkan loader supports only Vulkan {}.{}; alpha needs 1.2 or newer: update libvulkan1",
         VK_API_VERSION_MAJOR(loader_version), VK_API_VERSION_MINOR(loader_version));

  const char* validation_layer = "VK_LAYER_KHRONOS_validation";
  if (validation && !layer_available(validation_layer))
    fail("validation was requested but {} is not installed: apt-get install vulkan-validationlayers",
         validation_layer);

  VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
  app.pApplicationName = "alpha";
  app.pEngineName = "alpha";
  app.apiVersion = VK_API_VERSION_1_2;

  std::vector<const char*> extensions;
  std::vector<const char*> layers;
  VkDebugUtilsMessengerCreateInfoEXT messenger_info{
      VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
  messenger_info.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                                   VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  messenger_info.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  messenger_info.pfnUserCallback = on_validation_message;
  messenger_info.pUserData = log_;
  // Synchronization validation checks the barriers the command stream inserts.
  VkValidationFeatureEnableEXT enabled_features[] = {
      VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
  VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
  features.enabledValidationFeatureCount = 1;
  features.pEnabledValidationFeatures = enabled_features;
  features.pNext = &messenger_info;

  VkInstanceCreateInfo info{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
  info.pApplicationInfo = &app;
  if (validation) {
    layers.push_back(validation_layer);
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    info.pNext = &features;
  }
  info.enabledLayerCount = static_cast<uint32_t>(layers.size());
  info.ppEnabledLayerNames = layers.data();
  info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  info.ppEnabledExtensionNames = extensions.data();

  VkResult result = vkCreateInstance(&info, nullptr, &instance_);
  if (result == VK_ERROR_INCOMPATIBLE_DRIVER)
    fail("no Vulkan driver is installed: install mesa-vulkan-drivers (CPU device) or a GPU driver");
  VK_CHECK(result);
  volkLoadInstanceOnly(instance_);
  if (validation)
    VK_CHECK(vkCreateDebugUtilsMessengerEXT(instance_, &messenger_info, nullptr, &messenger_));
}

Instance::~Instance() {
  if (messenger_) vkDestroyDebugUtilsMessengerEXT(instance_, messenger_, nullptr);
  if (instance_) vkDestroyInstance(instance_, nullptr);
}

}  // namespace alpha::vk
