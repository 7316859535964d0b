// swiglu_forward and swiglu_backward launchers (see swiglu.h): elementwise over the N·H (gate, up)
// pairs, through rgba32f texels on CPU devices when H is a multiple of 4.
#include "engine/ops/swiglu.h"

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct SwigluPush {  // twin of swiglu.comp's Push
  uint32_t n;        // (gate, up) pairs, or texels of them
  uint32_t h;        // H, or H/4
};
static_assert(sizeof(SwigluPush) == 8);

namespace {

// Checks x (rows, 2H) against the gated tensor g (rows, H) and returns H.
int64_t gated_width(const Tensor& x, const Tensor& g, const char* op, const char* role) {
  const int64_t H = g.cols();
  if (H < 1 || x.cols() != 2 * H || x.rows() != g.rows())
    fail("{}: x {} and {} {} are not (N, 2H) and (N, H)", op, x.shape_string(), role,
         g.shape_string());
  return H;
}

bool overlap(const Tensor& a, const Tensor& b) {
  return a.slice.buffer == b.slice.buffer && a.slice.offset < b.slice.offset + b.bytes() &&
         b.slice.offset < a.slice.offset + a.bytes();
}

// The push block for n pairs of width H, in texels or in floats.
SwigluPush push_of(int64_t pairs, int64_t H, bool texel) {
  const int64_t per = texel ? 4 : 1;
  return {static_cast<uint32_t>(pairs / per), static_cast<uint32_t>(H / per)};
}

}  // namespace

void swiglu_forward(vk::CommandStream& stream, const Tensor& x, const Tensor& out) {
  const char* op = "swiglu_forward";
  require_f32(x, op, "x");
  require_f32(out, op, "out");
  const int64_t H = gated_width(x, out, op, "out");
  if (overlap(x, out)) fail("{}: out must not overlap x", op);
  const bool texel = H % 4 == 0 && texel_reads_vec4_store_fit(stream, {&x}, out);
  const SwigluPush push = push_of(out.numel(), H, texel);
  if (texel) {
    const auto& pipeline = stream.context().pipelines().get(
        {"swiglu_texel_forward_f32", 2, sizeof(SwigluPush), {kSpanGroupSize}, 0b01});
    stream.dispatch(pipeline, {reads_rgba(x), vk::writes(out.slice)}, push,
                    span_groups(stream, push.n));
    return;
  }
  const auto& pipeline = stream.context().pipelines().get(
      {"swiglu_forward_f32", 2, sizeof(SwigluPush), {kElementwiseGroupSize}});
  stream.dispatch(pipeline, {vk::reads(x.slice), vk::writes(out.slice)}, push,
                  elementwise_groups(stream, push.n));
}

void swiglu_backward(vk::CommandStream& stream, const Tensor& x, const Tensor& dout,
                     const Tensor& dx) {
  const char* op = "swiglu_backward";
  require_f32(x, op, "x");
  require_f32(dout, op, "dout");
  require_f32(dx, op, "dx");
  const int64_t H = gated_width(x, dout, op, "dout");
  require_same_numel(x, dx, op);
  if (overlap(dx, x) || overlap(dx, dout)) fail("{}: dx must not overlap x or dout", op);
  const bool texel = H % 4 == 0 && texel_reads_vec4_store_fit(stream, {&x, &dout}, dx);
  const SwigluPush push = push_of(dout.numel(), H, texel);
  if (texel) {
    const auto& pipeline = stream.context().pipelines().get(
        {"swiglu_texel_backward_f32", 3, sizeof(SwigluPush), {kSpanGroupSize}, 0b011});
    stream.dispatch(pipeline, {reads_rgba(x), reads_rgba(dout), vk::writes(dx.slice)}, push,
                    span_groups(stream, push.n));
    return;
  }
  const auto& pipeline = stream.context().pipelines().get(
      {"swiglu_backward_f32", 3, sizeof(SwigluPush), {kElementwiseGroupSize}});
  stream.dispatch(pipeline, {vk::reads(x.slice), vk::reads(dout.slice), vk::writes(dx.slice)}, push,
                  elementwise_groups(stream, push.n));
}

}  // namespace alpha::ops
