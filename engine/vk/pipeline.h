// Compute pipelines built from embedded SPIR-V: a descriptor set of N bindings (0..N-1), each a
// storage buffer or a storage texel buffer (an imageBuffer), one push-constant block, and
// specialization constants (constant_id 0..S-1; id 0 is the workgroup size by convention).
// Pipelines are created once per (variant, constants) and reused; the driver's pipeline cache is
// kept on disk between runs.
#pragma once

#include <volk.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace alpha::vk {

struct DeviceInfo;

// Where alpha keeps per-device caches: ALPHA_CACHE_DIR, else $XDG_CACHE_HOME/alpha, else
// ~/.cache/alpha; empty when none of them is set.
std::filesystem::path cache_dir();
// "VENDOR-DEVICE-UUID": names a device's cache files; the pipeline-cache UUID changes with the
// driver.
std::string device_cache_key(const DeviceInfo& info);

class Context;

struct PipelineDesc {
  std::string shader;               // embedded variant name, e.g. "matmul_nt_f32"
  uint32_t bindings = 0;  // bindings 0..bindings-1: storage buffers unless in texel_bindings
  uint32_t push_bytes = 0;          // size of the push-constant block
  std::vector<uint32_t> constants;  // specialization constants by constant_id
  uint32_t texel_bindings = 0;      // bit i set: binding i is a storage texel buffer (imageBuffer)
  bool is_texel(uint32_t binding) const { return (texel_bindings >> binding) & 1u; }
};

struct Pipeline {
  PipelineDesc desc;
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
};

class PipelineRegistry {
 public:
  explicit PipelineRegistry(Context& context);
  ~PipelineRegistry();  // saves the pipeline cache when new pipelines were built
  PipelineRegistry(const PipelineRegistry&) = delete;
  PipelineRegistry& operator=(const PipelineRegistry&) = delete;

  const Pipeline& get(const PipelineDesc& desc);
  size_t size() const { return pipelines_.size(); }
  // Where the on-disk cache lives; empty when disabled (ALPHA_PIPELINE_CACHE=0).
  const std::filesystem::path& cache_path() const { return cache_path_; }

 private:
  void load_cache();
  void save_cache() const;

  Context& context_;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  std::filesystem::path cache_path_;
  bool built_new_ = false;
  std::map<std::string, std::unique_ptr<Pipeline>> pipelines_;
};

}  // namespace alpha::vk
