// Command recording, hazard barriers, submission and timestamps (see command_stream.h).
#include "engine/vk/command_stream.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/vk/check.h"
#include "engine/vk/context.h"

namespace alpha::vk {

static constexpr uint32_t kSetsPerPool = 256;
static constexpr uint32_t kMaxBindings = 12;  // AdamW on CPU devices binds 9
static constexpr uint32_t kMaxTimedDispatches = 4096;

CommandStream::CommandStream(Context& context, bool profile) : context_(context) {
  VkDevice device = context.device();
  VkCommandBufferAllocateInfo alloc{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
  alloc.commandPool = context.command_pool();
  alloc.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  alloc.commandBufferCount = 1;
  VK_CHECK(vkAllocateCommandBuffers(device, &alloc, &commands_));
  VkFenceCreateInfo fence_info{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  VK_CHECK(vkCreateFence(device, &fence_info, nullptr, &fence_));
  if (profile && context.info().timestamps) {
    query_capacity_ = 2 * kMaxTimedDispatches;
    VkQueryPoolCreateInfo query_info{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    query_info.queryType = VK_QUERY_TYPE_TIMESTAMP;
    query_info.queryCount = query_capacity_;
    VK_CHECK(vkCreateQueryPool(device, &query_info, nullptr, &query_pool_));
  }
}

uint32_t texel_bytes(VkFormat format) {
  switch (format) {
    case VK_FORMAT_R32_SFLOAT:
    case VK_FORMAT_R32_UINT:
    case VK_FORMAT_R32_SINT:
      return 4;
    case VK_FORMAT_R32G32_SFLOAT:
      return 8;
    case VK_FORMAT_R32G32B32A32_SFLOAT:
    case VK_FORMAT_R32G32B32A32_UINT:
    case VK_FORMAT_R32G32B32A32_SINT:
      return 16;
    case VK_FORMAT_R16G16B16A16_SFLOAT:
      return 8;
    default:
      return 0;
  }
}

std::string texel_binding_problem(const DeviceInfo& info, const BufferSlice& slice, VkFormat format) {
  const uint32_t bytes = texel_bytes(format);
  if (bytes == 0) return fmt::format("has a texel format alpha does not know ({})", int(format));
  if (slice.size == 0 || slice.size % bytes != 0)
    return fmt::format("of {} bytes is not a whole number of {}-byte texels", slice.size, bytes);
  if (slice.size / bytes > info.max_texel_buffer_elements)
    return fmt::format("has {} texels, the device allows {}; split the tensor", slice.size / bytes,
                       info.max_texel_buffer_elements);
  if (slice.offset % std::max<uint64_t>(1, info.min_texel_buffer_offset_alignment) != 0)
    return fmt::format("offset {} is not aligned to {}", slice.offset, info.min_texel_buffer_offset_alignment);
  return {};
}

CommandStream::~CommandStream() {
  VkDevice device = context_.device();
  vkQueueWaitIdle(context_.queue());
  for (const auto& [key, view] : views_) vkDestroyBufferView(device, view, nullptr);
  for (VkDescriptorPool pool : pools_) vkDestroyDescriptorPool(device, pool, nullptr);
  if (query_pool_) vkDestroyQueryPool(device, query_pool_, nullptr);
  vkDestroyFence(device, fence_, nullptr);
  vkFreeCommandBuffers(device, context_.command_pool(), 1, &commands_);
}

void CommandStream::begin_recording() {
  VkCommandBufferBeginInfo begin{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  VK_CHECK(vkBeginCommandBuffer(commands_, &begin));
  if (query_pool_) vkCmdResetQueryPool(commands_, query_pool_, 0, query_capacity_);
  // Work submitted earlier (uploads, other streams) is complete and visible before this stream runs.
  VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  barrier.srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT;
  barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
  vkCmdPipelineBarrier(commands_, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0,
                       1, &barrier, 0, nullptr, 0, nullptr);
  state_ = State::Recording;
}

VkDescriptorSet CommandStream::allocate_set(VkDescriptorSetLayout layout) {
  if (sets_left_in_pool_ == 0) {
    VkDescriptorPoolSize sizes[2] = {
        {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, kSetsPerPool * kMaxBindings},
        {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, kSetsPerPool * kMaxBindings}};
    VkDescriptorPoolCreateInfo info{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
    info.maxSets = kSetsPerPool;
    info.poolSizeCount = 2;
    info.pPoolSizes = sizes;
    VkDescriptorPool pool;
    VK_CHECK(vkCreateDescriptorPool(context_.device(), &info, nullptr, &pool));
    pools_.push_back(pool);
    sets_left_in_pool_ = kSetsPerPool;
  }
  VkDescriptorSetAllocateInfo alloc{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
  alloc.descriptorPool = pools_.back();
  alloc.descriptorSetCount = 1;
  alloc.pSetLayouts = &layout;
  VkDescriptorSet set;
  VK_CHECK(vkAllocateDescriptorSets(context_.device(), &alloc, &set));
  --sets_left_in_pool_;
  return set;
}

VkBufferView CommandStream::texel_view(const Binding& b) {
  ViewKey key{b.slice.buffer, b.slice.offset, b.slice.size, b.texel_format};
  if (auto it = views_.find(key); it != views_.end()) return it->second;
  VkBufferViewCreateInfo info{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  info.buffer = b.slice.buffer;
  info.format = b.texel_format;
  info.offset = b.slice.offset;
  info.range = b.slice.size;
  VkBufferView view;
  VK_CHECK(vkCreateBufferView(context_.device(), &info, nullptr, &view));
  views_.emplace(key, view);
  return view;
}

void CommandStream::check_binding(const PipelineDesc& desc, uint32_t index,
                                  const Binding& b) const {
  const auto& info = context_.info();
  if (b.slice.buffer == VK_NULL_HANDLE || b.slice.size == 0)
    fail("{}: an empty buffer is bound", desc.shader);
  const bool texel = b.texel_format != VK_FORMAT_UNDEFINED;
  if (texel != desc.is_texel(index))
    fail("{}: binding {} is a {} in the shader but bound as a {}", desc.shader, index,
         desc.is_texel(index) ? "texel buffer" : "storage buffer",
         texel ? "texel buffer" : "storage buffer");
  if (!texel) {
    if (b.slice.size > info.max_storage_buffer_range)
      fail(
          "{}: a {:.1f} MiB binding exceeds this device's {:.1f} MiB storage-buffer range; split "
          "the tensor",
          desc.shader, b.slice.size / 1048576.0, info.max_storage_buffer_range / 1048576.0);
    if (b.slice.offset % info.min_storage_buffer_offset_alignment != 0)
      fail("{}: binding offset {} is not aligned to {}", desc.shader, b.slice.offset,
           info.min_storage_buffer_offset_alignment);
    return;
  }
  if (std::string problem = texel_binding_problem(info, b.slice, b.texel_format); !problem.empty())
    fail("{}: texel binding {} {}", desc.shader, index, problem);
}

void CommandStream::barrier_if_hazard(std::span<const Binding> bindings) {
  auto overlaps_any = [](const std::vector<Range>& ranges, const Range& r) {
    for (const auto& other : ranges)
      if (other.buffer == r.buffer && other.begin < r.end && r.begin < other.end) return true;
    return false;
  };
  bool hazard = false;
  for (const auto& b : bindings) {
    Range r{b.slice.buffer, b.slice.offset, b.slice.offset + b.slice.size};
    hazard |= overlaps_any(pending_writes_, r);              // read-after-write, write-after-write
    if (b.write) hazard |= overlaps_any(pending_reads_, r);  // write-after-read
  }
  if (hazard) {
    VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
    vkCmdPipelineBarrier(commands_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0,
                         1, &barrier, 0, nullptr, 0, nullptr);
    ++barrier_count_;
    pending_reads_.clear();
    pending_writes_.clear();
  }
  for (const auto& b : bindings)
    (b.write ? pending_writes_ : pending_reads_).push_back({b.slice.buffer, b.slice.offset, b.slice.offset + b.slice.size});
}

void CommandStream::dispatch(const Pipeline& pipeline, std::span<const Binding> bindings,
                             const void* push, uint32_t push_bytes, Groups groups,
                             std::string label) {
  const auto& desc = pipeline.desc;
  const auto& info = context_.info();
  if (state_ == State::Recorded) fail("{}: this command stream was already submitted; reset() it to record anew", desc.shader);
  if (bindings.size() != desc.bindings || bindings.size() > kMaxBindings)
    fail("{}: {} buffers bound, the shader has {}", desc.shader, bindings.size(), desc.bindings);
  if (push_bytes != desc.push_bytes)
    fail("{}: push constants of {} bytes, the shader expects {}", desc.shader, push_bytes, desc.push_bytes);
  if (groups.x == 0 || groups.y == 0 || groups.z == 0) fail("{}: a dispatch of zero workgroups", desc.shader);
  if (groups.x > info.max_group_count_x || groups.y > info.max_group_count_y)
    fail("{}: {}x{} workgroups exceed the device limit {}x{}", desc.shader, groups.x, groups.y,
         info.max_group_count_x, info.max_group_count_y);
  uint32_t index = 0;
  for (const auto& b : bindings) check_binding(desc, index++, b);

  if (state_ == State::Empty) begin_recording();
  barrier_if_hazard(bindings);

  VkDescriptorSet set = allocate_set(pipeline.set_layout);
  VkDescriptorBufferInfo buffer_infos[kMaxBindings];
  VkBufferView views[kMaxBindings];
  VkWriteDescriptorSet writes[kMaxBindings];
  uint32_t i = 0;
  for (const auto& b : bindings) {
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstSet = set;
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    if (desc.is_texel(i)) {
      views[i] = texel_view(b);
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER;
      writes[i].pTexelBufferView = &views[i];
    } else {
      buffer_infos[i] = {b.slice.buffer, b.slice.offset, b.slice.size};
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &buffer_infos[i];
    }
    ++i;
  }
  vkUpdateDescriptorSets(context_.device(), i, writes, 0, nullptr);

  const bool timed = query_pool_ && labels_.size() * 2 + 2 <= query_capacity_;
  if (timed) vkCmdWriteTimestamp(commands_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, query_pool_, labels_.size() * 2);
  vkCmdBindPipeline(commands_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.pipeline);
  vkCmdBindDescriptorSets(commands_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout, 0, 1, &set, 0, nullptr);
  if (push_bytes) vkCmdPushConstants(commands_, pipeline.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_bytes, push);
  vkCmdDispatch(commands_, groups.x, groups.y, groups.z);
  if (timed) {
    vkCmdWriteTimestamp(commands_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, query_pool_, labels_.size() * 2 + 1);
    labels_.push_back(label.empty() ? desc.shader : std::move(label));
  }
  ++dispatch_count_;
}

void CommandStream::submit() {
  submit_async();
  wait();
}

void CommandStream::submit_async() {
  if (state_ == State::Empty) return;
  wait();  // a command buffer runs once at a time
  if (state_ == State::Recording) {
    // Results are visible to the host (downloads) and to whatever the queue runs next.
    VkMemoryBarrier barrier{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    barrier.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
    barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT;
    vkCmdPipelineBarrier(commands_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1, &barrier, 0, nullptr,
                         0, nullptr);
    VK_CHECK(vkEndCommandBuffer(commands_));
    state_ = State::Recorded;
  }
  VkSubmitInfo submit{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  submit.commandBufferCount = 1;
  submit.pCommandBuffers = &commands_;
  VK_CHECK(vkResetFences(context_.device(), 1, &fence_));
  VK_CHECK(vkQueueSubmit(context_.queue(), 1, &submit, fence_));
  in_flight_ = true;
}

void CommandStream::wait() {
  if (!in_flight_) return;
  context_.wait(fence_);
  in_flight_ = false;
  read_timings();
}

void CommandStream::read_timings() {
  timings_.clear();
  if (!query_pool_ || labels_.empty()) return;
  std::vector<uint64_t> stamps(labels_.size() * 2);
  VK_CHECK(vkGetQueryPoolResults(context_.device(), query_pool_, 0, stamps.size(), stamps.size() * 8,
                                 stamps.data(), 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
  const double ns_per_tick = context_.info().timestamp_period_ns;
  for (size_t i = 0; i < labels_.size(); ++i)
    timings_.push_back({labels_[i], (stamps[2 * i + 1] - stamps[2 * i]) * ns_per_tick * 1e-6});
}

void CommandStream::reset() {
  wait();
  if (state_ == State::Recording) VK_CHECK(vkEndCommandBuffer(commands_));
  VK_CHECK(vkResetCommandBuffer(commands_, 0));
  for (VkDescriptorPool pool : pools_) vkDestroyDescriptorPool(context_.device(), pool, nullptr);
  pools_.clear();
  for (const auto& [key, view] : views_) vkDestroyBufferView(context_.device(), view, nullptr);
  views_.clear();
  sets_left_in_pool_ = 0;
  pending_reads_.clear();
  pending_writes_.clear();
  labels_.clear();
  timings_.clear();
  dispatch_count_ = barrier_count_ = 0;
  state_ = State::Empty;
}

}  // namespace alpha::vk
