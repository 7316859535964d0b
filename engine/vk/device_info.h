// What a physical device is and can do, queried once: type, driver, memory, fp16/bf16, 16-bit
// storage, subgroup size, shared memory, timestamps, cooperative-matrix extensions and shapes.
// Nothing here creates a logical device; context.h picks one of these and opens it.
#pragma once

#include <volk.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace alpha::vk {

struct CoopMatShape {
  uint32_t m, n, k;
  std::string a_type, c_type;  // e.g. "f16", "f32"
  bool nv = false;             // reported by VK_NV_cooperative_matrix (else by the KHR extension)
};

struct DeviceInfo {
  uint32_t index = 0;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  std::string name;
  VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
  uint32_t vendor_id = 0, device_id = 0, api_version = 0, driver_version = 0;
  std::string driver_name, driver_info;
  uint8_t pipeline_cache_uuid[VK_UUID_SIZE] = {};

  uint64_t device_local_bytes = 0;  // largest device-local heap
  std::optional<uint32_t> compute_queue_family;

  bool fp16_arithmetic = false;   // shaderFloat16
  bool storage_16bit = false;     // storageBuffer16BitAccess
  bool bf16 = false;              // VK_KHR_shader_bfloat16 present
  uint32_t subgroup_size = 0;
  bool subgroup_shuffle = false;  // VK_SUBGROUP_FEATURE_SHUFFLE_BIT in compute shaders
  bool subgroup_size_control = false;
  uint32_t min_subgroup_size = 0, max_subgroup_size = 0;
  uint32_t max_shared_memory = 0;
  uint32_t max_workgroup_invocations = 0;
  uint32_t max_group_count_x = 0, max_group_count_y = 0;
  uint32_t max_storage_buffer_range = 0;
  uint64_t min_storage_buffer_offset_alignment = 0;
  // Storage texel buffers (imageBuffer): formats usable as one, and their limits.
  bool texel_rgba32f = false;  // R32G32B32A32_SFLOAT with STORAGE_TEXEL_BUFFER
  bool texel_r32f = false;     // R32_SFLOAT with STORAGE_TEXEL_BUFFER
  bool texel_rgba16f = false;  // R16G16B16A16_SFLOAT with STORAGE_TEXEL_BUFFER (fp16 operands)
  uint32_t max_texel_buffer_elements = 0;
  uint64_t min_texel_buffer_offset_alignment = 0;
  bool timestamps = false;
  float timestamp_period_ns = 0;

  bool coopmat_khr = false;  // VK_KHR_cooperative_matrix
  bool coopmat_nv = false;   // VK_NV_cooperative_matrix
  bool coopmat2_nv = false;  // VK_NV_cooperative_matrix2
  std::vector<CoopMatShape> coopmat_shapes;

  std::vector<std::string> extensions;
  bool has_extension(const char* name) const;

  // Empty when alpha can run on the device; otherwise why not.
  std::string unusable_reason() const;
  std::string type_name() const;
  std::string api_version_string() const;
};

std::vector<DeviceInfo> query_devices(VkInstance instance);

}  // namespace alpha::vk
