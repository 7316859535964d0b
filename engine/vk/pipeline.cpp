// Pipeline creation and the on-disk pipeline cache (see pipeline.h).
#include "engine/vk/pipeline.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/vk/check.h"
#include "engine/vk/context.h"
#include "engine/vk/shader_registry.h"

namespace alpha::vk {

// Our header in front of the driver's blob, so a truncated or corrupted file is ignored.
struct CacheFileHeader {
  char magic[8] = {'A', 'L', 'P', 'H', 'A', 'P', 'C', '1'};
  uint64_t bytes = 0;
  uint64_t checksum = 0;
};

static uint64_t fnv1a(const uint8_t* data, size_t bytes) {
  uint64_t hash = 1469598103934665603ull;
  for (size_t i = 0; i < bytes; ++i) hash = (hash ^ data[i]) * 1099511628211ull;
  return hash;
}

std::filesystem::path cache_dir() {
  if (const char* dir = std::getenv("ALPHA_CACHE_DIR"); dir && *dir) return dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::filesystem::path(xdg) / "alpha";
  if (const char* home = std::getenv("HOME"); home && *home) return std::filesystem::path(home) / ".cache/alpha";
  return {};
}

std::string device_cache_key(const DeviceInfo& info) {
  std::string uuid;
  for (uint8_t byte : info.pipeline_cache_uuid) uuid += fmt::format("{:02x}", byte);
  return fmt::format("{:04x}-{:04x}-{}", info.vendor_id, info.device_id, uuid);
}

PipelineRegistry::PipelineRegistry(Context& context) : context_(context) {
  const char* setting = std::getenv("ALPHA_PIPELINE_CACHE");
  bool enabled = !(setting && std::strcmp(setting, "0") == 0);
  if (enabled && !cache_dir().empty())
    cache_path_ = cache_dir() / fmt::format("pipelines-{}.bin", device_cache_key(context.info()));
  load_cache();
}

void PipelineRegistry::load_cache() {
  std::vector<char> blob;
  if (!cache_path_.empty()) {
    std::ifstream file(cache_path_, std::ios::binary);
    std::vector<char> content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CacheFileHeader header, expected;
    if (content.size() >= sizeof header) {
      std::memcpy(&header, content.data(), sizeof header);
      const auto* data = reinterpret_cast<const uint8_t*>(content.data() + sizeof header);
      if (std::memcmp(header.magic, expected.magic, sizeof header.magic) == 0 &&
          header.bytes == content.size() - sizeof header && header.checksum == fnv1a(data, header.bytes))
        blob.assign(content.begin() + sizeof header, content.end());
    }
  }
  VkPipelineCacheCreateInfo info{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  info.initialDataSize = blob.size();
  info.pInitialData = blob.empty() ? nullptr : blob.data();
  if (vkCreatePipelineCache(context_.device(), &info, nullptr, &cache_) != VK_SUCCESS) {
    info.initialDataSize = 0;  // a blob the driver rejects is only a cold start
    info.pInitialData = nullptr;
    VK_CHECK(vkCreatePipelineCache(context_.device(), &info, nullptr, &cache_));
  }
}

void PipelineRegistry::save_cache() const {
  size_t bytes = 0;
  if (vkGetPipelineCacheData(context_.device(), cache_, &bytes, nullptr) != VK_SUCCESS || bytes == 0) return;
  std::vector<uint8_t> blob(bytes);
  if (vkGetPipelineCacheData(context_.device(), cache_, &bytes, blob.data()) != VK_SUCCESS) return;
  CacheFileHeader header;
  header.bytes = bytes;
  header.checksum = fnv1a(blob.data(), bytes);
  // A cache is an optimisation: failing to write it is not an error, and a partial file never replaces
  // a good one (temp file, then rename).
  std::error_code error;
  std::filesystem::create_directories(cache_path_.parent_path(), error);
  auto temp = cache_path_;
  temp += fmt::format(".tmp{}", getpid());
  FILE* file = std::fopen(temp.c_str(), "wb");
  if (!file) return;
  bool ok = std::fwrite(&header, sizeof header, 1, file) == 1 && std::fwrite(blob.data(), 1, bytes, file) == bytes;
  ok = std::fflush(file) == 0 && fsync(fileno(file)) == 0 && ok;
  ok = std::fclose(file) == 0 && ok;
  if (ok) std::filesystem::rename(temp, cache_path_, error);
  if (!ok || error) std::filesystem::remove(temp, error);
}

PipelineRegistry::~PipelineRegistry() {
  VkDevice device = context_.device();
  if (built_new_ && !cache_path_.empty()) save_cache();
  for (auto& [key, p] : pipelines_) {
    vkDestroyPipeline(device, p->pipeline, nullptr);
    vkDestroyPipelineLayout(device, p->layout, nullptr);
    vkDestroyDescriptorSetLayout(device, p->set_layout, nullptr);
  }
  vkDestroyPipelineCache(device, cache_, nullptr);
}

const Pipeline& PipelineRegistry::get(const PipelineDesc& desc) {
  std::string key = desc.shader;
  for (uint32_t c : desc.constants) key += fmt::format(":{}", c);
  if (auto it = pipelines_.find(key); it != pipelines_.end()) {
    const PipelineDesc& have = it->second->desc;
    if (have.bindings != desc.bindings || have.push_bytes != desc.push_bytes ||
        have.texel_bindings != desc.texel_bindings)
      fail("shader {} was described twice with different bindings or push size", desc.shader);
    return *it->second;
  }
  VkDevice device = context_.device();
  const EmbeddedShader& shader = find_shader(desc.shader);
  auto p = std::make_unique<Pipeline>();
  p->desc = desc;

  std::vector<VkDescriptorSetLayoutBinding> bindings(desc.bindings);
  for (uint32_t i = 0; i < desc.bindings; ++i) {
    bindings[i].binding = i;
    bindings[i].descriptorType = desc.is_texel(i) ? VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER
                                                  : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[i].descriptorCount = 1;
    bindings[i].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  VkDescriptorSetLayoutCreateInfo set_info{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  set_info.bindingCount = desc.bindings;
  set_info.pBindings = bindings.data();
  VK_CHECK(vkCreateDescriptorSetLayout(device, &set_info, nullptr, &p->set_layout));

  VkPushConstantRange push{VK_SHADER_STAGE_COMPUTE_BIT, 0, desc.push_bytes};
  VkPipelineLayoutCreateInfo layout_info{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  layout_info.setLayoutCount = 1;
  layout_info.pSetLayouts = &p->set_layout;
  layout_info.pushConstantRangeCount = desc.push_bytes ? 1 : 0;
  layout_info.pPushConstantRanges = &push;
  VK_CHECK(vkCreatePipelineLayout(device, &layout_info, nullptr, &p->layout));

  VkShaderModuleCreateInfo module_info{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
  module_info.codeSize = shader.word_count * 4;
  module_info.pCode = shader.words;
  VkShaderModule module;
  VK_CHECK(vkCreateShaderModule(device, &module_info, nullptr, &module));

  std::vector<VkSpecializationMapEntry> entries(desc.constants.size());
  for (uint32_t i = 0; i < entries.size(); ++i) entries[i] = {i, i * 4, 4};
  VkSpecializationInfo spec{static_cast<uint32_t>(entries.size()), entries.data(), desc.constants.size() * 4,
                            desc.constants.data()};
  VkComputePipelineCreateInfo info{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
  info.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
  info.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  info.stage.module = module;
  info.stage.pName = "main";
  info.stage.pSpecializationInfo = entries.empty() ? nullptr : &spec;
  info.layout = p->layout;
  VkResult result = vkCreateComputePipelines(device, cache_, 1, &info, nullptr, &p->pipeline);
  vkDestroyShaderModule(device, module, nullptr);
  VK_CHECK(result);
  built_new_ = true;
  return *pipelines_.emplace(key, std::move(p)).first->second;
}

}  // namespace alpha::vk
