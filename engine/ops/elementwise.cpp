// fill, copy, add, mul, scale, softcap launchers (see elementwise.h).
#include "engine/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct CountPush {  // twin of fill.comp / elementwise.comp's Push
  uint32_t n;
  float value;
};
static_assert(sizeof(CountPush) == 8);

struct CopyPush {  // twin of copy.comp's Push
  uint32_t n;
};
static_assert(sizeof(CopyPush) == 4);

static const vk::Pipeline& pipeline(vk::CommandStream& stream, const char* shader, uint32_t bindings,
                                    uint32_t push_bytes) {
  return stream.context().pipelines().get({shader, bindings, push_bytes, {kElementwiseGroupSize}});
}
// The CPU-device variants: SPANS workgroups (launch.h), texel_bindings read as rgba32f texels.
static const vk::Pipeline& span_pipeline(vk::CommandStream& stream, const char* shader,
                                         uint32_t bindings, uint32_t push_bytes,
                                         uint32_t texel_bindings) {
  return stream.context().pipelines().get(
      {shader, bindings, push_bytes, {kSpanGroupSize}, texel_bindings});
}

void fill(vk::CommandStream& stream, const Tensor& out, float value) {
  require_f32(out, "fill", "out");
  if (texel_reads_vec4_store_fit(stream, {}, out)) {
    CountPush push{static_cast<uint32_t>(out.numel() / 4), value};
    stream.dispatch(span_pipeline(stream, "fill_vec4_f32", 1, sizeof push, 0),
                    {vk::writes(out.slice)}, push, span_groups(stream, out.numel() / 4));
    return;
  }
  CountPush push{static_cast<uint32_t>(out.numel()), value};
  stream.dispatch(pipeline(stream, "fill_f32", 1, sizeof push), {vk::writes(out.slice)}, push,
                  elementwise_groups(stream, out.numel()));
}

void copy(vk::CommandStream& stream, const Tensor& src, const Tensor& dst) {
  require_f32(src, "copy", "src");
  require_f32(dst, "copy", "dst");
  require_same_numel(src, dst, "copy");
  if (texel_reads_vec4_store_fit(stream, {&src}, dst)) {
    CopyPush push{static_cast<uint32_t>(src.numel() / 4)};
    stream.dispatch(span_pipeline(stream, "copy_texel_f32", 2, sizeof push, 0b01),
                    {reads_rgba(src), vk::writes(dst.slice)}, push,
                    span_groups(stream, src.numel() / 4));
    return;
  }
  CopyPush push{static_cast<uint32_t>(src.numel())};
  stream.dispatch(pipeline(stream, "copy_f32", 2, sizeof push), {vk::reads(src.slice), vk::writes(dst.slice)},
                  push, elementwise_groups(stream, src.numel()));
}

void cast_to_f16(vk::CommandStream& stream, const Tensor& src, const Tensor& dst) {
  require_f32(src, "cast_to_f16", "src");
  if (dst.dtype != DType::f16)
    fail("cast_to_f16: dst is {}, it must be f16", dtype_name(dst.dtype));
  require_same_numel(src, dst, "cast_to_f16");
  if (!stream.context().fp16_enabled())
    fail(
        "cast_to_f16: {} has no 16-bit storage (or ALPHA_DISABLE_FP16 is set): use "
        "--precision=fp32",
        stream.context().info().name);
  if (texel_reads_vec4_store_fit(stream, {&src}, dst)) {
    CopyPush push{static_cast<uint32_t>(src.numel() / 4)};
    stream.dispatch(span_pipeline(stream, "cast_texel_f32_f16", 2, sizeof push, 0b01),
                    {reads_rgba(src), vk::writes(dst.slice)}, push,
                    span_groups(stream, src.numel() / 4));
    return;
  }
  CopyPush push{static_cast<uint32_t>(src.numel())};
  stream.dispatch(pipeline(stream, "cast_f32_f16", 2, sizeof push),
                  {vk::reads(src.slice), vk::writes(dst.slice)}, push,
                  elementwise_groups(stream, src.numel()));
}

static void binary(vk::CommandStream& stream, const char* shader, const char* texel_shader,
                   const Tensor& a, const Tensor& b, const Tensor& out) {
  require_f32(a, shader, "a");
  require_f32(b, shader, "b");
  require_f32(out, shader, "out");
  require_same_numel(a, b, shader);
  require_same_numel(a, out, shader);
  if (texel_reads_vec4_store_fit(stream, {&a, &b}, out)) {
    CountPush push{static_cast<uint32_t>(a.numel() / 4), 0.0f};
    stream.dispatch(span_pipeline(stream, texel_shader, 3, sizeof push, 0b011),
                    {reads_rgba(a), reads_rgba(b), vk::writes(out.slice)}, push,
                    span_groups(stream, a.numel() / 4));
    return;
  }
  CountPush push{static_cast<uint32_t>(a.numel()), 0.0f};
  stream.dispatch(pipeline(stream, shader, 3, sizeof push),
                  {vk::reads(a.slice), vk::reads(b.slice), vk::writes(out.slice)}, push,
                  elementwise_groups(stream, a.numel()));
}

void add(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& out) {
  binary(stream, "add_f32", "add_texel_f32", a, b, out);
}

void mul(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& out) {
  binary(stream, "mul_f32", "mul_texel_f32", a, b, out);
}

void scale(vk::CommandStream& stream, const Tensor& a, float s, const Tensor& out) {
  require_f32(a, "scale", "a");
  require_f32(out, "scale", "out");
  require_same_numel(a, out, "scale");
  if (texel_reads_vec4_store_fit(stream, {&a}, out)) {
    CountPush push{static_cast<uint32_t>(a.numel() / 4), s};
    stream.dispatch(span_pipeline(stream, "scale_texel_f32", 2, sizeof push, 0b01),
                    {reads_rgba(a), vk::writes(out.slice)}, push,
                    span_groups(stream, a.numel() / 4));
    return;
  }
  CountPush push{static_cast<uint32_t>(a.numel()), s};
  stream.dispatch(pipeline(stream, "scale_f32", 2, sizeof push), {vk::reads(a.slice), vk::writes(out.slice)},
                  push, elementwise_groups(stream, a.numel()));
}

void softcap(vk::CommandStream& stream, const Tensor& x, const Tensor& out, float cap,
             VkDeviceSize max_chunk_bytes) {
  require_f32(x, "softcap", "x");
  require_f32(out, "softcap", "out");
  require_same_numel(x, out, "softcap");
  if (!(cap > 0.0f) || std::isinf(cap))
    fail("softcap: the cap is {}; it must be finite and > 0", cap);
  // Chunks of `chunk` floats: every chunk starts at a byte offset (relative to each tensor) that is
  // a multiple of the storage-buffer, texel-buffer and vec4 alignments, so each chunk stays as
  // aligned as the tensors are, and holds whole vec4s; no chunk exceeds a binding.
  const auto& info = stream.context().info();
  const uint64_t align_bytes =
      std::lcm(std::lcm<uint64_t>(std::max<uint64_t>(info.min_storage_buffer_offset_alignment, 1),
                                  std::max<uint64_t>(info.min_texel_buffer_offset_alignment, 1)),
               16);
  uint64_t limit = info.max_storage_buffer_range;
  if (stream.context().texel_kernels())
    limit = std::min<uint64_t>(limit, uint64_t(info.max_texel_buffer_elements) * 16);
  if (max_chunk_bytes > 0) limit = std::min<uint64_t>(limit, max_chunk_bytes);
  const int64_t chunk =
      static_cast<int64_t>(std::max<uint64_t>(limit / align_bytes, 1) * align_bytes / 4);
  for (int64_t first = 0; first < x.numel(); first += chunk) {
    const int64_t n = std::min(chunk, x.numel() - first);
    const Tensor xc{{n}, DType::f32, x.slice.sub(first * 4, n * 4)};
    const Tensor oc{{n}, DType::f32, out.slice.sub(first * 4, n * 4)};
    if (texel_reads_vec4_store_fit(stream, {&xc}, oc)) {
      CountPush push{static_cast<uint32_t>(n / 4), cap};
      stream.dispatch(span_pipeline(stream, "softcap_texel_f32", 2, sizeof push, 0b01),
                      {reads_rgba(xc), vk::writes(oc.slice)}, push, span_groups(stream, n / 4),
                      "softcap");
      continue;
    }
    CountPush push{static_cast<uint32_t>(n), cap};
    stream.dispatch(pipeline(stream, "softcap_f32", 2, sizeof push),
                    {vk::reads(xc.slice), vk::writes(oc.slice)}, push,
                    elementwise_groups(stream, n), "softcap");
  }
}

}  // namespace alpha::ops
