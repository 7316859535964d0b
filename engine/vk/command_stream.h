// A command stream records many dispatches into one command buffer, inserting a barrier only where a
// dispatch reads or writes a range that an earlier dispatch since the last barrier wrote (or, for a
// write, read). submit() runs it and waits (bounded); a recorded stream can be submitted again
// unchanged (replay). With profiling on, each dispatch is bracketed by GPU timestamps.
#pragma once

#include <volk.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/vk/arena.h"
#include "engine/vk/pipeline.h"

namespace alpha::vk {

class Context;

// A buffer range bound to one binding: a storage buffer, or a storage texel buffer (imageBuffer) of
// texel_format when that is not VK_FORMAT_UNDEFINED. A texel binding's slice must start at the
// device's texel offset alignment and hold whole texels.
struct Binding {
  BufferSlice slice;
  bool write = false;
  VkFormat texel_format = VK_FORMAT_UNDEFINED;
};
inline Binding reads(const BufferSlice& slice) { return {slice, false}; }
inline Binding writes(const BufferSlice& slice) { return {slice, true}; }
inline Binding reads_texels(const BufferSlice& slice, VkFormat format) {
  return {slice, false, format};
}
inline Binding writes_texels(const BufferSlice& slice, VkFormat format) {
  return {slice, true, format};
}
// Bytes per texel of the formats texel bindings take (R32_SFLOAT, R32G32B32A32_SFLOAT, ...); 0 if
// unknown.
uint32_t texel_bytes(VkFormat format);
struct DeviceInfo;
// Why `slice` cannot be bound as a texel buffer of `format` on this device (an unknown format, not
// whole texels, more texels than the limit, an unaligned offset), or empty when it can. dispatch()
// fails with it; launchers ask it to pick a texel kernel.
std::string texel_binding_problem(const DeviceInfo& info, const BufferSlice& slice, VkFormat format);

struct Groups {
  uint32_t x = 1, y = 1, z = 1;
};

struct DispatchTiming {
  std::string label;
  double ms = 0;
};

class CommandStream {
 public:
  explicit CommandStream(Context& context, bool profile = false);
  ~CommandStream();
  CommandStream(const CommandStream&) = delete;
  CommandStream& operator=(const CommandStream&) = delete;

  // Records one dispatch. Checks the binding count, push size, group counts and binding ranges
  // against the pipeline and the device limits before recording anything.
  void dispatch(const Pipeline& pipeline, std::span<const Binding> bindings, const void* push,
                uint32_t push_bytes, Groups groups, std::string label = {});
  void dispatch(const Pipeline& pipeline, std::initializer_list<Binding> bindings, const void* push,
                uint32_t push_bytes, Groups groups, std::string label = {}) {
    dispatch(pipeline, std::span<const Binding>(bindings.begin(), bindings.size()), push,
             push_bytes, groups, std::move(label));
  }
  template <typename Push>
  void dispatch(const Pipeline& pipeline, std::initializer_list<Binding> bindings, const Push& push,
                Groups groups, std::string label = {}) {
    dispatch(pipeline, bindings, &push, sizeof(Push), groups, std::move(label));
  }
  // A binding list built at run time (a kernel variant with an optional binding).
  template <typename Push>
  void dispatch(const Pipeline& pipeline, const std::vector<Binding>& bindings, const Push& push,
                Groups groups, std::string label = {}) {
    dispatch(pipeline, std::span<const Binding>(bindings), &push, sizeof(Push), groups,
             std::move(label));
  }

  // Ends recording (first call) and runs the stream, waiting for it. Later calls replay it.
  void submit();
  // submit() without the wait: the stream runs while the host goes on; wait() (or the next submit,
  // reset or the destructor) waits for it, bounded like every wait.
  void submit_async();
  void wait();
  bool in_flight() const { return in_flight_; }
  // Drops what was recorded; the next dispatch starts a new recording.
  void reset();

  bool recording() const { return state_ == State::Recording; }
  size_t dispatch_count() const { return dispatch_count_; }
  size_t barrier_count() const { return barrier_count_; }
  Context& context() const { return context_; }
  bool profiling() const { return query_pool_ != VK_NULL_HANDLE; }
  // Per-dispatch GPU time of the last submit, in recording order (empty without profiling).
  const std::vector<DispatchTiming>& timings() const { return timings_; }

 private:
  enum class State { Empty, Recording, Recorded };
  struct Range {
    VkBuffer buffer;
    VkDeviceSize begin, end;
  };

  void begin_recording();
  VkDescriptorSet allocate_set(VkDescriptorSetLayout layout);
  VkBufferView texel_view(const Binding& binding);
  void check_binding(const PipelineDesc& desc, uint32_t index, const Binding& binding) const;
  void barrier_if_hazard(std::span<const Binding> bindings);
  void read_timings();

  Context& context_;
  VkCommandBuffer commands_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  std::vector<VkDescriptorPool> pools_;
  uint32_t sets_left_in_pool_ = 0;
  VkQueryPool query_pool_ = VK_NULL_HANDLE;
  uint32_t query_capacity_ = 0;
  State state_ = State::Empty;
  bool in_flight_ = false;
  std::vector<Range> pending_reads_, pending_writes_;  // since the last barrier
  struct ViewKey {
    VkBuffer buffer;
    VkDeviceSize offset, size;
    VkFormat format;
    auto operator<=>(const ViewKey&) const = default;
  };
  std::map<ViewKey, VkBufferView> views_;  // texel-buffer views of this recording, freed by reset()
  std::vector<std::string> labels_;
  std::vector<DispatchTiming> timings_;
  size_t dispatch_count_ = 0, barrier_count_ = 0;
};

}  // namespace alpha::vk
