// Arena sub-allocation and host transfers (see arena.h).
#include "engine/vk/arena.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "engine/vk/check.h"
#include "engine/vk/context.h"

namespace alpha::vk {

static constexpr VkDeviceSize kStagingBytes = VkDeviceSize(64) << 20;

BufferSlice BufferSlice::sub(VkDeviceSize byte_offset, VkDeviceSize bytes) const {
  if (byte_offset + bytes > size)
    fail("buffer sub-range [{}, {}) is outside a slice of {} bytes", byte_offset, byte_offset + bytes, size);
  BufferSlice s = *this;
  s.offset += byte_offset;
  s.size = bytes;
  if (s.mapped) s.mapped += byte_offset;
  return s;
}

uint32_t find_memory_type(VkPhysicalDevice physical, uint32_t type_bits, VkMemoryPropertyFlags required,
                          VkMemoryPropertyFlags preferred) {
  VkPhysicalDeviceMemoryProperties memory;
  vkGetPhysicalDeviceMemoryProperties(physical, &memory);
  int fallback = -1;
  for (uint32_t i = 0; i < memory.memoryTypeCount; ++i) {
    if (!(type_bits & (1u << i))) continue;
    VkMemoryPropertyFlags flags = memory.memoryTypes[i].propertyFlags;
    if ((flags & required) != required) continue;
    if ((flags & preferred) == preferred) return i;
    if (fallback < 0) fallback = static_cast<int>(i);
  }
  if (fallback < 0) fail("the device has no memory type with the properties alpha needs ({:#x})", required);
  return static_cast<uint32_t>(fallback);
}

struct Arena::Staging {
  Block block;
  VkCommandBuffer commands = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
};

Arena::Arena(Context& context, VkDeviceSize block_bytes) : context_(context), block_bytes_(block_bytes) {
  alignment_ = std::max<VkDeviceSize>(256, context.info().min_storage_buffer_offset_alignment);
  // Map the arena directly only where device memory is host memory (CPU devices, integrated GPUs);
  // a discrete GPU's host-visible device-local heap is often a small BAR window.
  auto type = context.info().type;
  bool unified = type == VK_PHYSICAL_DEVICE_TYPE_CPU || type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU;
  host_visible_ = unified && !context.switches().disable_direct_map;
}

Arena::~Arena() {
  if (staging_) {
    vkFreeCommandBuffers(context_.device(), context_.command_pool(), 1, &staging_->commands);
    vkDestroyFence(context_.device(), staging_->fence, nullptr);
    destroy_block(staging_->block);
  }
  for (auto& block : blocks_) destroy_block(block);
}

Arena::Block Arena::make_block(VkDeviceSize bytes, bool staging) const {
  VkDevice device = context_.device();
  Block block;
  block.size = bytes;
  VkBufferCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  info.size = bytes;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT |
               VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  info.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  VK_CHECK(vkCreateBuffer(device, &info, nullptr, &block.buffer));
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(device, block.buffer, &req);

  VkMemoryPropertyFlags required, preferred;
  if (staging) {
    required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    preferred = required | VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
  } else if (host_visible_) {
    required = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    preferred = required | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  } else {
    required = 0;
    preferred = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  }
  VkMemoryAllocateInfo alloc{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  alloc.allocationSize = req.size;
  alloc.memoryTypeIndex = find_memory_type(context_.physical(), req.memoryTypeBits, required, preferred);
  VkResult result = vkAllocateMemory(device, &alloc, nullptr, &block.memory);
  if (result != VK_SUCCESS) {
    vkDestroyBuffer(device, block.buffer, nullptr);
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY)
      fail("cannot allocate {:.1f} MiB of device memory on {}: use a smaller model or batch",
           bytes / 1048576.0, context_.info().name);
    VK_CHECK(result);
  }
  VK_CHECK(vkBindBufferMemory(device, block.buffer, block.memory, 0));
  if (staging || host_visible_) {
    void* mapped = nullptr;
    VK_CHECK(vkMapMemory(device, block.memory, 0, VK_WHOLE_SIZE, 0, &mapped));
    block.mapped = static_cast<std::byte*>(mapped);
  }
  block.free[0] = bytes;
  return block;
}

void Arena::destroy_block(Block& block) const {
  if (block.mapped) vkUnmapMemory(context_.device(), block.memory);
  vkDestroyBuffer(context_.device(), block.buffer, nullptr);
  vkFreeMemory(context_.device(), block.memory, nullptr);
}

static VkDeviceSize round_up(VkDeviceSize value, VkDeviceSize multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

BufferSlice Arena::allocate(VkDeviceSize bytes) {
  if (bytes == 0) fail("Arena::allocate: zero bytes requested");
  const VkDeviceSize size = round_up(bytes, alignment_);
  auto take = [&](uint32_t index) -> std::optional<BufferSlice> {
    Block& block = blocks_[index];
    for (auto it = block.free.begin(); it != block.free.end(); ++it) {
      auto [offset, free_size] = *it;
      if (free_size < size) continue;
      block.free.erase(it);
      if (free_size > size) block.free[offset + size] = free_size - size;
      block.live[offset] = size;
      used_ += size;
      return BufferSlice{block.buffer, offset, size, block.mapped ? block.mapped + offset : nullptr, index};
    }
    return std::nullopt;
  };
  for (uint32_t i = 0; i < blocks_.size(); ++i)
    if (auto slice = take(i)) return *slice;
  blocks_.push_back(make_block(std::max(block_bytes_, size), false));
  return *take(static_cast<uint32_t>(blocks_.size() - 1));
}

void Arena::release(const BufferSlice& slice) {
  if (slice.block >= blocks_.size() || blocks_[slice.block].buffer != slice.buffer)
    fail("Arena::release: the slice does not belong to this arena");
  Block& block = blocks_[slice.block];
  auto live = block.live.find(slice.offset);
  if (live == block.live.end() || live->second != slice.size)
    fail("Arena::release: [{}, +{}) is not a live allocation (freed twice, or a sub-slice)", slice.offset, slice.size);
  block.live.erase(live);
  auto& free = block.free;
  VkDeviceSize offset = slice.offset, size = slice.size;
  // Coalesce with the free neighbours on both sides.
  auto next = free.lower_bound(offset);
  if (next != free.end() && next->first == offset + size) {
    size += next->second;
    next = free.erase(next);
  }
  if (next != free.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      offset = prev->first;
      size += prev->second;
      free.erase(prev);
    }
  }
  free[offset] = size;
  used_ -= slice.size;
}

VkDeviceSize Arena::reserved_bytes() const {
  VkDeviceSize total = 0;
  for (const auto& block : blocks_) total += block.size;
  return total;
}

void Arena::upload(const BufferSlice& dst, const void* src, size_t bytes) {
  if (bytes > dst.size) fail("upload of {} bytes into a slice of {} bytes", bytes, dst.size);
  if (dst.mapped) {
    std::memcpy(dst.mapped, src, bytes);
    return;
  }
  copy_through_staging(dst, static_cast<std::byte*>(const_cast<void*>(src)), bytes, true);
}

void Arena::download(const BufferSlice& src, void* dst, size_t bytes) {
  if (bytes > src.size) fail("download of {} bytes from a slice of {} bytes", bytes, src.size);
  if (src.mapped) {
    std::memcpy(dst, src.mapped, bytes);
    return;
  }
  copy_through_staging(src, static_cast<std::byte*>(dst), bytes, false);
}

void Arena::copy_through_staging(const BufferSlice& slice, std::byte* host, size_t bytes, bool to_device) {
  VkDevice device = context_.device();
  if (!staging_) {
    staging_ = std::make_unique<Staging>();
    staging_->block = make_block(kStagingBytes, true);
    VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    alloc.commandPool = context_.command_pool();
    alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    alloc.commandBufferCount = 1;
    VK_CHECK(vkAllocateCommandBuffers(device, &alloc, &staging_->commands));
    VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkCreateFence(device, &fence_info, nullptr, &staging_->fence));
  }
  for (size_t done = 0; done < bytes; done += kStagingBytes) {
    const size_t chunk = std::min<size_t>(kStagingBytes, bytes - done);
    if (to_device) std::memcpy(staging_->block.mapped, host + done, chunk);
    VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    VK_CHECK(vkBeginCommandBuffer(staging_->commands, &begin));
    // Earlier work on this queue (kernels writing or reading the slice) completes first.
    VkMemoryBarrier before{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    before.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
    before.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    vkCmdPipelineBarrier(staging_->commands, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0,
                         1, &before, 0, nullptr, 0, nullptr);
    VkBufferCopy region{};
    region.size = chunk;
    if (to_device) {
      region.dstOffset = slice.offset + done;
      vkCmdCopyBuffer(staging_->commands, staging_->block.buffer, slice.buffer, 1, &region);
    } else {
      region.srcOffset = slice.offset + done;
      vkCmdCopyBuffer(staging_->commands, slice.buffer, staging_->block.buffer, 1, &region);
    }
    // The copy is visible to later kernels and to the host.
    VkMemoryBarrier after{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    after.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    after.dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT | VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(staging_->commands, VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_ALL_COMMANDS_BIT | VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &after, 0,
                         nullptr, 0, nullptr);
    VK_CHECK(vkEndCommandBuffer(staging_->commands));
    VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    submit.commandBufferCount = 1;
    submit.pCommandBuffers = &staging_->commands;
    VK_CHECK(vkResetFences(device, 1, &staging_->fence));
    VK_CHECK(vkQueueSubmit(context_.queue(), 1, &submit, staging_->fence));
    context_.wait(staging_->fence);
    if (!to_device) std::memcpy(host + done, staging_->block.mapped, chunk);
  }
}

}  // namespace alpha::vk
