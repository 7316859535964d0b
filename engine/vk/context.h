// The Vulkan context: instance, the chosen device (discrete GPU first, lavapipe last; --device or
// ALPHA_DEVICE override), the logical device with its compute queue and command pool, the fast-path
// switches read once from the environment, and the pipeline registry. Memory lives in arena.h.
#pragma once

#include <volk.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/vk/device_info.h"
#include "engine/vk/instance.h"

namespace alpha::vk {

class PipelineRegistry;

// Fast paths that can be turned off with ALPHA_DISABLE_<X>=1, read once at device init.
struct Switches {
  bool disable_coopmat = false;     // ALPHA_DISABLE_COOPMAT: no cooperative-matrix kernels
  bool disable_fp16 = false;        // ALPHA_DISABLE_FP16: no fp16 arithmetic or 16-bit storage
  bool disable_direct_map = false;  // ALPHA_DISABLE_DIRECT_MAP: always upload through staging
  bool disable_texel = false;       // ALPHA_DISABLE_TEXEL: no texel-buffer kernels on CPU devices
  bool disable_replay = false;      // ALPHA_DISABLE_REPLAY: record every training step anew
  static Switches from_env();
  std::string describe() const;
};

struct ContextOptions {
  bool validation = false;            // Khronos validation + synchronization validation
  std::optional<int> device_index;    // else ALPHA_DEVICE, else the best device
  ValidationLog* validation_log = nullptr;  // where validation messages go; must outlive the context
};

// Picks the device to use: the requested index (checked), else the best usable one by type.
// Throws alpha::Error listing every device and why it was rejected.
const DeviceInfo& select_device(const std::vector<DeviceInfo>& devices, std::optional<int> requested);

// Reads ALPHA_DEVICE; throws on a value that is not a non-negative integer.
std::optional<int> device_index_from_env();

class Context {
 public:
  explicit Context(const ContextOptions& options = {});
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  VkDevice device() const { return device_; }
  VkPhysicalDevice physical() const { return info_.physical; }
  VkQueue queue() const { return queue_; }
  uint32_t queue_family() const { return *info_.compute_queue_family; }
  VkCommandPool command_pool() const { return command_pool_; }
  const DeviceInfo& info() const { return info_; }
  const Switches& switches() const { return switches_; }
  ValidationLog& validation_log() { return instance_.validation_log(); }
  PipelineRegistry& pipelines() { return *pipelines_; }
  uint64_t wait_timeout_ns() const { return wait_timeout_ns_; }
  bool fp16_enabled() const { return fp16_enabled_; }
  // The CPU-device kernels that read through rgba32f storage texel buffers and 8-lane subgroup
  // shuffles (lavapipe's fast loads) can run: a CPU device with both, and ALPHA_DISABLE_TEXEL
  // unset.
  bool texel_kernels() const { return texel_kernels_; }
  // The cooperative-matrix fragment shape the matrix-core kernels use (GL_NV_cooperative_matrix:
  // f16 A and B, f32 C, M, N, K dividing 32), when the device has one, 16-bit storage is on and
  // ALPHA_DISABLE_COOPMAT is unset; the extension is enabled on the device then.
  const std::optional<CoopMatShape>& coopmat_shape() const { return coopmat_shape_; }

  // Waits for a fence with the context's timeout; a timeout or device loss becomes an alpha::Error.
  void wait(VkFence fence) const;

 private:
  Instance instance_;
  DeviceInfo info_;
  Switches switches_;
  uint64_t wait_timeout_ns_ = 0;
  bool fp16_enabled_ = false;
  bool texel_kernels_ = false;
  std::optional<CoopMatShape> coopmat_shape_;
  VkDevice device_ = VK_NULL_HANDLE;
  VkQueue queue_ = VK_NULL_HANDLE;
  VkCommandPool command_pool_ = VK_NULL_HANDLE;
  std::unique_ptr<PipelineRegistry> pipelines_;  // destroyed before the device (see ~Context)
};

}  // namespace alpha::vk
