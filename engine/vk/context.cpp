// Device selection and logical device creation (see context.h).
#include "engine/vk/context.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "engine/vk/check.h"
#include "engine/vk/pipeline.h"

namespace alpha::vk {

static bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value && *value && std::strcmp(value, "0") != 0;
}

Switches Switches::from_env() {
  Switches s;
  s.disable_coopmat = env_flag("ALPHA_DISABLE_COOPMAT");
  s.disable_fp16 = env_flag("ALPHA_DISABLE_FP16");
  s.disable_direct_map = env_flag("ALPHA_DISABLE_DIRECT_MAP");
  s.disable_texel = env_flag("ALPHA_DISABLE_TEXEL");
  s.disable_replay = env_flag("ALPHA_DISABLE_REPLAY");
  return s;
}

std::string Switches::describe() const {
  std::string out;
  auto add = [&](bool off, const char* name) {
    if (off) out += out.empty() ? name : fmt::format(", {}", name);
  };
  add(disable_coopmat, "ALPHA_DISABLE_COOPMAT");
  add(disable_fp16, "ALPHA_DISABLE_FP16");
  add(disable_direct_map, "ALPHA_DISABLE_DIRECT_MAP");
  add(disable_texel, "ALPHA_DISABLE_TEXEL");
  add(disable_replay, "ALPHA_DISABLE_REPLAY");
  return out.empty() ? "none" : out;
}

std::optional<int> device_index_from_env() {
  const char* value = std::getenv("ALPHA_DEVICE");
  if (!value || !*value) return std::nullopt;
  int index = -1;
  auto [end, ec] = std::from_chars(value, value + std::strlen(value), index);
  if (ec != std::errc() || *end != '\0' || index < 0)
    fail("ALPHA_DEVICE={} is not a device index: run `alpha devices` to list them", value);
  return index;
}

static int type_rank(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

static std::string list_devices(const std::vector<DeviceInfo>& devices) {
  std::string out;
  for (const auto& d : devices) {
    std::string reason = d.unusable_reason();
    out += fmt::format("{}{}: {} ({}{}{})", out.empty() ? "" : "; ", d.index, d.name, d.type_name(),
                       reason.empty() ? "" : ", unusable: ", reason);
  }
  return out;
}

const DeviceInfo& select_device(const std::vector<DeviceInfo>& devices, std::optional<int> requested) {
  if (devices.empty())
    fail("no Vulkan device found: install a GPU driver or mesa-vulkan-drivers (lavapipe, the CPU device)");
  if (requested) {
    if (*requested < 0 || *requested >= static_cast<int>(devices.size()))
      fail("there is no Vulkan device {}: this machine has {} ({})", *requested, devices.size(),
           list_devices(devices));
    const DeviceInfo& chosen = devices[*requested];
    if (std::string reason = chosen.unusable_reason(); !reason.empty())
      fail("Vulkan device {} ({}) cannot be used: it {}", chosen.index, chosen.name, reason);
    return chosen;
  }
  const DeviceInfo* best = nullptr;
  for (const auto& d : devices) {
    if (!d.unusable_reason().empty()) continue;
    if (!best || type_rank(d.type) < type_rank(best->type)) best = &d;
  }
  if (!best) fail("no usable Vulkan device: {}", list_devices(devices));
  return *best;
}

static uint64_t timeout_from_env() {
  const char* value = std::getenv("ALPHA_GPU_TIMEOUT_S");
  double seconds = 600;
  if (value && *value) {
    char* end = nullptr;
    seconds = std::strtod(value, &end);
    if (*end != '\0' || !(seconds > 0)) fail("ALPHA_GPU_TIMEOUT_S={} is not a positive number of seconds", value);
  }
  return static_cast<uint64_t>(seconds * 1e9);
}

Context::Context(const ContextOptions& options) : instance_(options.validation, options.validation_log) {
  std::optional<int> requested = options.device_index ? options.device_index : device_index_from_env();
  info_ = select_device(query_devices(instance_.handle()), requested);
  switches_ = Switches::from_env();
  wait_timeout_ns_ = timeout_from_env();

  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue_info{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
  queue_info.queueFamilyIndex = *info_.compute_queue_family;
  queue_info.queueCount = 1;
  queue_info.pQueuePriorities = &priority;

  // Enable only what is present and not switched off; kernels check these before using them.
  fp16_enabled_ = !switches_.disable_fp16 && info_.fp16_arithmetic && info_.storage_16bit;
  texel_kernels_ = !switches_.disable_texel && info_.type == VK_PHYSICAL_DEVICE_TYPE_CPU &&
                   info_.texel_rgba32f && info_.subgroup_shuffle && info_.subgroup_size >= 8;
  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  f11.pNext = &f12;
  f11.storageBuffer16BitAccess = fp16_enabled_;
  f12.shaderFloat16 = fp16_enabled_;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  features.pNext = &f11;
  // Matrix cores through VK_NV_cooperative_matrix: the largest f16 x f16 -> f32 fragment whose
  // sides divide the kernel's 32x32 subgroup tile (matmul_coopmat.comp).
  std::vector<const char*> extensions;
  VkPhysicalDeviceCooperativeMatrixFeaturesNV coopmat{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
  if (info_.coopmat_nv && fp16_enabled_ && !switches_.disable_coopmat) {
    for (const auto& shape : info_.coopmat_shapes)
      if (shape.nv && shape.a_type == "f16" && shape.c_type == "f32" && 32 % shape.m == 0 &&
          32 % shape.n == 0 && 32 % shape.k == 0 &&
          (!coopmat_shape_ ||
           shape.m * shape.n * shape.k > coopmat_shape_->m * coopmat_shape_->n * coopmat_shape_->k))
        coopmat_shape_ = shape;
    if (coopmat_shape_) {
      extensions.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
      coopmat.cooperativeMatrix = VK_TRUE;
      f12.pNext = &coopmat;
    }
  }

  VkDeviceCreateInfo device_info{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
  device_info.pNext = &features;
  device_info.enabledExtensionCount = static_cast<uint32_t>(extensions.size());
  device_info.ppEnabledExtensionNames = extensions.data();
  device_info.queueCreateInfoCount = 1;
  device_info.pQueueCreateInfos = &queue_info;
  VK_CHECK(vkCreateDevice(info_.physical, &device_info, nullptr, &device_));
  volkLoadDevice(device_);
  vkGetDeviceQueue(device_, *info_.compute_queue_family, 0, &queue_);

  VkCommandPoolCreateInfo pool_info{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pool_info.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pool_info.queueFamilyIndex = *info_.compute_queue_family;
  VK_CHECK(vkCreateCommandPool(device_, &pool_info, nullptr, &command_pool_));
  pipelines_ = std::make_unique<PipelineRegistry>(*this);
}

Context::~Context() {
  if (device_) vkDeviceWaitIdle(device_);
  pipelines_.reset();
  if (command_pool_) vkDestroyCommandPool(device_, command_pool_, nullptr);
  if (device_) vkDestroyDevice(device_, nullptr);
}

void Context::wait(VkFence fence) const {
  VkResult result = vkWaitForFences(device_, 1, &fence, VK_TRUE, wait_timeout_ns_);
  if (result == VK_TIMEOUT)
    fail("the GPU did not finish within {:.0f} s (ALPHA_GPU_TIMEOUT_S): a kernel hung or the work "
         "is too large for this device",
         wait_timeout_ns_ / 1e9);
  VK_CHECK(result);
}

}  // namespace alpha::vk
