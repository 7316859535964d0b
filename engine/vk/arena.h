// Device memory arena: a few large VkBuffer+VkDeviceMemory blocks that tensors are sub-allocated from
// (first fit, coalescing frees), never one allocation per tensor. Also uploads and downloads: a direct
// memcpy where the memory is host-visible (lavapipe, ReBAR GPUs), else through a staging buffer.
#pragma once

#include <volk.h>

#include <cstddef>
#include <map>
#include <memory>
#include <vector>

namespace alpha::vk {

class Context;

// A byte range of one arena block: what a kernel binds.
struct BufferSlice {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceSize offset = 0;
  VkDeviceSize size = 0;
  std::byte* mapped = nullptr;  // host pointer to offset, or null when the memory is not mapped
  uint32_t block = 0;

  // A sub-range of this slice (offset and size in bytes, relative to this slice).
  BufferSlice sub(VkDeviceSize byte_offset, VkDeviceSize bytes) const;
};

class Arena {
 public:
  static constexpr VkDeviceSize kDefaultBlockBytes = VkDeviceSize(256) << 20;

  explicit Arena(Context& context, VkDeviceSize block_bytes = kDefaultBlockBytes);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Aligned to the device's storage-buffer offset alignment (at least 256 bytes). bytes > 0.
  BufferSlice allocate(VkDeviceSize bytes);
  void release(const BufferSlice& slice);

  void upload(const BufferSlice& dst, const void* src, size_t bytes);
  void download(const BufferSlice& src, void* dst, size_t bytes);

  VkDeviceSize used_bytes() const { return used_; }
  VkDeviceSize reserved_bytes() const;
  size_t block_count() const { return blocks_.size(); }
  bool direct_mapped() const { return host_visible_; }
  Context& context() const { return context_; }

 private:
  struct Block {
    VkBuffer buffer = VK_NULL_HANDLE;
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkDeviceSize size = 0;
    std::byte* mapped = nullptr;
    std::map<VkDeviceSize, VkDeviceSize> free;  // offset -> size, coalesced
    std::map<VkDeviceSize, VkDeviceSize> live;  // offset -> size of each allocation
  };
  struct Staging;

  Block make_block(VkDeviceSize bytes, bool host_visible_only) const;
  void destroy_block(Block& block) const;
  void copy_through_staging(const BufferSlice& slice, std::byte* host, size_t bytes, bool to_device);

  Context& context_;
  VkDeviceSize block_bytes_;
  VkDeviceSize alignment_;
  bool host_visible_ = false;  // blocks are host-visible and persistently mapped
  uint32_t memory_type_ = 0;
  VkDeviceSize used_ = 0;
  std::vector<Block> blocks_;
  std::unique_ptr<Staging> staging_;  // created on the first staged transfer
};

// Index of a memory type allowed by `type_bits` that has all of `required` flags, preferring
// `preferred` too; throws when none has the required flags.
uint32_t find_memory_type(VkPhysicalDevice physical, uint32_t type_bits, VkMemoryPropertyFlags required,
                          VkMemoryPropertyFlags preferred);

}  // namespace alpha::vk
