// activation_forward and activation_backward launchers (see gelu.h): grid-stride elementwise
// dispatches, over rgba32f texels on CPU devices when the element count is a multiple of 4.
#include "engine/ops/gelu.h"

#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct GeluPush {  // twin of gelu.comp's Push
  uint32_t n;
};
static_assert(sizeof(GeluPush) == 4);

// By activation and pass (forward, backward): the op's name in errors and gelu.comp's variants
// (shaders/meson.build), plain and texel.
struct ActivationNames {
  const char *op, *plain, *texel;
};
static const ActivationNames kNames[2][2] = {
    {{"gelu_forward", "gelu_forward_f32", "gelu_texel_forward_f32"},
     {"gelu_backward", "gelu_backward_f32", "gelu_texel_backward_f32"}},
    {{"relu2_forward", "relu2_forward_f32", "relu2_texel_forward_f32"},
     {"relu2_backward", "relu2_backward_f32", "relu2_texel_backward_f32"}}};
static const ActivationNames& names(Activation act, bool backward) {
  return kNames[act == Activation::relu2 ? 1 : 0][backward ? 1 : 0];
}

void activation_forward(vk::CommandStream& stream, Activation act, const Tensor& x,
                        const Tensor& out) {
  const ActivationNames& name = names(act, false);
  require_f32(x, name.op, "x");
  require_f32(out, name.op, "out");
  require_same_numel(x, out, name.op);
  if (texel_reads_vec4_store_fit(stream, {&x}, out)) {
    const auto& pipeline =
        stream.context().pipelines().get({name.texel, 2, sizeof(GeluPush), {kSpanGroupSize}, 0b01});
    stream.dispatch(pipeline, {reads_rgba(x), vk::writes(out.slice)},
                    GeluPush{static_cast<uint32_t>(x.numel() / 4)},
                    span_groups(stream, x.numel() / 4));
    return;
  }
  const auto& pipeline =
      stream.context().pipelines().get({name.plain, 2, sizeof(GeluPush), {kElementwiseGroupSize}});
  stream.dispatch(pipeline, {vk::reads(x.slice), vk::writes(out.slice)},
                  GeluPush{static_cast<uint32_t>(x.numel())},
                  elementwise_groups(stream, x.numel()));
}

void activation_backward(vk::CommandStream& stream, Activation act, const Tensor& x,
                         const Tensor& dout, const Tensor& dx) {
  const ActivationNames& name = names(act, true);
  require_f32(x, name.op, "x");
  require_f32(dout, name.op, "dout");
  require_f32(dx, name.op, "dx");
  require_same_numel(x, dout, name.op);
  require_same_numel(x, dx, name.op);
  if (texel_reads_vec4_store_fit(stream, {&x, &dout}, dx)) {
    const auto& pipeline = stream.context().pipelines().get(
        {name.texel, 3, sizeof(GeluPush), {kSpanGroupSize}, 0b011});
    stream.dispatch(pipeline, {reads_rgba(x), reads_rgba(dout), vk::writes(dx.slice)},
                    GeluPush{static_cast<uint32_t>(x.numel() / 4)},
                    span_groups(stream, x.numel() / 4));
    return;
  }
  const auto& pipeline =
      stream.context().pipelines().get({name.plain, 3, sizeof(GeluPush), {kElementwiseGroupSize}});
  stream.dispatch(pipeline, {vk::reads(x.slice), vk::reads(dout.slice), vk::writes(dx.slice)},
                  GeluPush{static_cast<uint32_t>(x.numel())},
                  elementwise_groups(stream, x.numel()));
}

void gelu_forward(vk::CommandStream& stream, const Tensor& x, const Tensor& out) {
  activation_forward(stream, Activation::gelu, x, out);
}

void gelu_backward(vk::CommandStream& stream, const Tensor& x, const Tensor& dout,
                   const Tensor& dx) {
  activation_backward(stream, Activation::gelu, x, dout, dx);
}

}  // namespace alpha::ops
