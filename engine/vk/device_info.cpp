// Physical device capability query (see device_info.h).
#include "engine/vk/device_info.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "engine/vk/check.h"

namespace alpha::vk {

// VK_KHR_cooperative_matrix is newer than Debian 12's Vulkan headers (1.3.239); these mirror the
// registry's definitions so the shapes can still be listed where a driver has the extension.
namespace khr_coopmat {
constexpr VkStructureType kPropertiesSType = static_cast<VkStructureType>(1000506001);
struct Properties {
  VkStructureType sType;
  void* pNext;
  uint32_t MSize, NSize, KSize;
  VkComponentTypeNV AType, BType, CType, ResultType;
  VkBool32 saturatingAccumulation;
  VkScopeNV scope;
};
using GetProperties = VkResult(VKAPI_PTR*)(VkPhysicalDevice, uint32_t*, Properties*);
}  // namespace khr_coopmat

static std::string component_name(VkComponentTypeNV type) {
  switch (type) {
    case VK_COMPONENT_TYPE_FLOAT16_NV: return "f16";
    case VK_COMPONENT_TYPE_FLOAT32_NV: return "f32";
    case VK_COMPONENT_TYPE_FLOAT64_NV: return "f64";
    case VK_COMPONENT_TYPE_SINT8_NV: return "i8";
    case VK_COMPONENT_TYPE_UINT8_NV: return "u8";
    case VK_COMPONENT_TYPE_SINT32_NV: return "i32";
    case VK_COMPONENT_TYPE_UINT32_NV: return "u32";
    default: return fmt::format("type{}", static_cast<int>(type));
  }
}

bool DeviceInfo::has_extension(const char* ext) const {
  return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
}

std::string DeviceInfo::type_name() const {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
  }
}

std::string DeviceInfo::api_version_string() const {
  return fmt::format("{}.{}.{}", VK_API_VERSION_MAJOR(api_version), VK_API_VERSION_MINOR(api_version),
                     VK_API_VERSION_PATCH(api_version));
}

std::string DeviceInfo::unusable_reason() const {
  if (api_version < VK_API_VERSION_1_2)
    return fmt::format("supports Vulkan {} only; alpha needs 1.2", api_version_string());
  if (!compute_queue_family) return "has no compute queue";
  return "";
}

static void query_coopmat_shapes(VkInstance instance, DeviceInfo& info) {
  if (info.coopmat_khr) {
    auto get = reinterpret_cast<khr_coopmat::GetProperties>(
        vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR"));
    uint32_t count = 0;
    if (get && get(info.physical, &count, nullptr) == VK_SUCCESS && count > 0) {
      std::vector<khr_coopmat::Properties> props(count);
      for (auto& p : props) p = {khr_coopmat::kPropertiesSType, nullptr};
      if (get(info.physical, &count, props.data()) == VK_SUCCESS)
        for (const auto& p : props)
          info.coopmat_shapes.push_back(
              {p.MSize, p.NSize, p.KSize, component_name(p.AType), component_name(p.CType)});
    }
  }
  // Listed too when the KHR extension is there: the matrix-core kernels use the NV extension (what
  // glslang 12 compiles), whose shapes can differ from the KHR ones.

  if (info.coopmat_nv && vkGetPhysicalDeviceCooperativeMatrixPropertiesNV) {
    uint32_t count = 0;
    vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(info.physical, &count, nullptr);
    std::vector<VkCooperativeMatrixPropertiesNV> props(
        count, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
    vkGetPhysicalDeviceCooperativeMatrixPropertiesNV(info.physical, &count, props.data());
    for (const auto& p : props)
      info.coopmat_shapes.push_back(
          {p.MSize, p.NSize, p.KSize, component_name(p.AType), component_name(p.CType), true});
  }
}

static DeviceInfo query_device(VkInstance instance, VkPhysicalDevice physical, uint32_t index) {
  DeviceInfo info;
  info.index = index;
  info.physical = physical;

  uint32_t ext_count = 0;
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &ext_count, nullptr);
  std::vector<VkExtensionProperties> exts(ext_count);
  vkEnumerateDeviceExtensionProperties(physical, nullptr, &ext_count, exts.data());
  for (const auto& e : exts) info.extensions.emplace_back(e.extensionName);

  VkPhysicalDeviceDriverProperties driver{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
  VkPhysicalDeviceSubgroupProperties subgroup{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
  VkPhysicalDeviceSubgroupSizeControlProperties subgroup_control{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
  subgroup.pNext = &driver;
  subgroup_control.pNext = &subgroup;
  VkPhysicalDeviceProperties2 props{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
  props.pNext = &subgroup_control;
  vkGetPhysicalDeviceProperties2(physical, &props);
  const auto& p = props.properties;
  info.name = p.deviceName;
  info.type = p.deviceType;
  info.vendor_id = p.vendorID;
  info.device_id = p.deviceID;
  info.api_version = p.apiVersion;
  info.driver_version = p.driverVersion;
  std::memcpy(info.pipeline_cache_uuid, p.pipelineCacheUUID, VK_UUID_SIZE);
  if (info.api_version >= VK_API_VERSION_1_2) {
    info.driver_name = driver.driverName;
    info.driver_info = driver.driverInfo;
  }
  info.subgroup_size = subgroup.subgroupSize;
  info.subgroup_shuffle = (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
  info.min_subgroup_size = subgroup_control.minSubgroupSize;
  info.max_subgroup_size = subgroup_control.maxSubgroupSize;
  info.max_shared_memory = p.limits.maxComputeSharedMemorySize;
  info.max_workgroup_invocations = p.limits.maxComputeWorkGroupInvocations;
  info.max_group_count_x = p.limits.maxComputeWorkGroupCount[0];
  info.max_group_count_y = p.limits.maxComputeWorkGroupCount[1];
  info.max_storage_buffer_range = p.limits.maxStorageBufferRange;
  info.min_storage_buffer_offset_alignment = p.limits.minStorageBufferOffsetAlignment;
  info.timestamp_period_ns = p.limits.timestampPeriod;
  info.max_texel_buffer_elements = p.limits.maxTexelBufferElements;
  info.min_texel_buffer_offset_alignment = p.limits.minTexelBufferOffsetAlignment;
  auto storage_texel = [&](VkFormat format) {
    VkFormatProperties props;
    vkGetPhysicalDeviceFormatProperties(physical, format, &props);
    return (props.bufferFeatures & VK_FORMAT_FEATURE_STORAGE_TEXEL_BUFFER_BIT) != 0;
  };
  info.texel_rgba32f = storage_texel(VK_FORMAT_R32G32B32A32_SFLOAT);
  info.texel_r32f = storage_texel(VK_FORMAT_R32_SFLOAT);
  info.texel_rgba16f = storage_texel(VK_FORMAT_R16G16B16A16_SFLOAT);

  VkPhysicalDeviceVulkan11Features f11{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES};
  VkPhysicalDeviceVulkan12Features f12{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
  VkPhysicalDeviceSubgroupSizeControlFeatures fsc{
      VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
  f11.pNext = &f12;
  f12.pNext = &fsc;
  VkPhysicalDeviceFeatures2 features{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
  features.pNext = &f11;
  if (info.api_version >= VK_API_VERSION_1_2) {
    vkGetPhysicalDeviceFeatures2(physical, &features);
    info.fp16_arithmetic = f12.shaderFloat16;
    info.storage_16bit = f11.storageBuffer16BitAccess;
    info.subgroup_size_control = fsc.subgroupSizeControl;
  }
  info.bf16 = info.has_extension("VK_KHR_shader_bfloat16");

  uint32_t family_count = 0;
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &family_count, nullptr);
  std::vector<VkQueueFamilyProperties> families(family_count);
  vkGetPhysicalDeviceQueueFamilyProperties(physical, &family_count, families.data());
  // Prefer a compute queue that also does graphics (the main queue): it has timestamps everywhere.
  for (uint32_t i = 0; i < family_count; ++i) {
    if (!(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT)) continue;
    if (!info.compute_queue_family || (families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) {
      info.compute_queue_family = i;
      info.timestamps = families[i].timestampValidBits > 0 && info.timestamp_period_ns > 0;
    }
  }

  VkPhysicalDeviceMemoryProperties memory;
  vkGetPhysicalDeviceMemoryProperties(physical, &memory);
  for (uint32_t i = 0; i < memory.memoryHeapCount; ++i)
    if (memory.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info.device_local_bytes = std::max<uint64_t>(info.device_local_bytes, memory.memoryHeaps[i].size);

  info.coopmat_khr = info.has_extension("VK_KHR_cooperative_matrix");
  info.coopmat_nv = info.has_extension(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
  info.coopmat2_nv = info.has_extension("VK_NV_cooperative_matrix2");
  query_coopmat_shapes(instance, info);
  return info;
}

std::vector<DeviceInfo> query_devices(VkInstance instance) {
  uint32_t count = 0;
  VK_CHECK(vkEnumeratePhysicalDevices(instance, &count, nullptr));
  std::vector<VkPhysicalDevice> physicals(count);
  VK_CHECK(vkEnumeratePhysicalDevices(instance, &count, physicals.data()));
  std::vector<DeviceInfo> devices;
  for (uint32_t i = 0; i < count; ++i) devices.push_back(query_device(instance, physicals[i], i));
  return devices;
}

}  // namespace alpha::vk
