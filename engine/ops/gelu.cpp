// gelu_forward and gelu_backward launchers (see gelu.h): grid-stride elementwise dispatches, over
// rgba32f texels on CPU devices when the element count is a multiple of 4.
#include "engine/ops/gelu.h"

#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct GeluPush {  // twin of gelu.comp's Push
  uint32_t n;
};
static_assert(sizeof(GeluPush) == 4);

void gelu_forward(vk::CommandStream& stream, const Tensor& x, const Tensor& out) {
  require_f32(x, "gelu_forward", "x");
  require_f32(out, "gelu_forward", "out");
  require_same_numel(x, out, "gelu_forward");
  if (texel_reads_vec4_store_fit(stream, {&x}, out)) {
    const auto& pipeline = stream.context().pipelines().get(
        {"gelu_texel_forward_f32", 2, sizeof(GeluPush), {kSpanGroupSize}, 0b01});
    stream.dispatch(pipeline, {reads_rgba(x), vk::writes(out.slice)},
                    GeluPush{static_cast<uint32_t>(x.numel() / 4)},
                    span_groups(stream, x.numel() / 4));
    return;
  }
  const auto& pipeline = stream.context().pipelines().get(
      {"gelu_forward_f32", 2, sizeof(GeluPush), {kElementwiseGroupSize}});
  stream.dispatch(pipeline, {vk::reads(x.slice), vk::writes(out.slice)},
                  GeluPush{static_cast<uint32_t>(x.numel())},
                  elementwise_groups(stream, x.numel()));
}

void gelu_backward(vk::CommandStream& stream, const Tensor& x, const Tensor& dout,
                   const Tensor& dx) {
  require_f32(x, "gelu_backward", "x");
  require_f32(dout, "gelu_backward", "dout");
  require_f32(dx, "gelu_backward", "dx");
  require_same_numel(x, dout, "gelu_backward");
  require_same_numel(x, dx, "gelu_backward");
  if (texel_reads_vec4_store_fit(stream, {&x, &dout}, dx)) {
    const auto& pipeline = stream.context().pipelines().get(
        {"gelu_texel_backward_f32", 3, sizeof(GeluPush), {kSpanGroupSize}, 0b011});
    stream.dispatch(pipeline, {reads_rgba(x), reads_rgba(dout), vk::writes(dx.slice)},
                    GeluPush{static_cast<uint32_t>(x.numel() / 4)},
                    span_groups(stream, x.numel() / 4));
    return;
  }
  const auto& pipeline = stream.context().pipelines().get(
      {"gelu_backward_f32", 3, sizeof(GeluPush), {kElementwiseGroupSize}});
  stream.dispatch(pipeline, {vk::reads(x.slice), vk::reads(dout.slice), vk::writes(dx.slice)},
                  GeluPush{static_cast<uint32_t>(x.numel())},
                  elementwise_groups(stream, x.numel()));
}

}  // namespace alpha::ops
