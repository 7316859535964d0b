#version 450
// sum_squares for CPU devices (lavapipe): out[8g + lane] = the sum of x^2 over the texels that lane
// `lane` of workgroup g owns, plus, in lane 0 of group 0, the 0-3 floats past the last whole texel.
// Group g owns the contiguous span of texels [g·span, (g+1)·span) and its lanes take every 8th texel
// of it, so each load is 128 contiguous bytes and each group streams through its own memory (a
// grid-stride walk, 128 bytes of every G·128, streamed at a third of this from memory). The input is
// read as rgba32f texels (one inline, branch-free load for 8 lanes on lavapipe, where a
// storage-buffer load inside a loop is a loop over the lanes). The order of additions depends only on
// n and the span: results are reproducible bit for bit.

#extension GL_EXT_control_flow_attributes : require

layout(push_constant) uniform Push {
  uint texels;  // whole rgba32f texels in `in4`
  uint tail;    // floats in `tail_in` (0-3)
  uint span;    // texels per group, a multiple of 16
} p;

layout(local_size_x = 8) in;

layout(rgba32f, binding = 0) uniform readonly imageBuffer in4;
layout(r32f, binding = 1) uniform readonly imageBuffer tail_in;
layout(binding = 2) writeonly buffer Out { float out_[]; };

void main() {
  const uint lane = gl_LocalInvocationID.x;
  const uint texels = p.texels;
  const uint begin = min(gl_WorkGroupID.x * p.span, texels), end = min(begin + p.span, texels);
  // two accumulators and two loads per iteration: two independent add chains (not tuned further)
  vec4 s0 = vec4(0.0), s1 = vec4(0.0);
  int t = int(begin + lane);
  const uint pairs = (end - begin) / 16;  // iterations in which both loads are in range
  for (uint i = 0; i < pairs; ++i) {
    const vec4 x0 = imageLoad(in4, t), x1 = imageLoad(in4, t + 8);
    s0 += x0 * x0;
    s1 += x1 * x1;
    t += 16;
  }
  [[unroll]] for (uint r = 0; r < 2; ++r) {  // the span's last texels, fewer than 16
    const vec4 x = uint(t) < end ? imageLoad(in4, t) : vec4(0.0);
    s0 += x * x;
    t += 8;
  }
  const vec4 s = s0 + s1;
  float sum = (s.x + s.y) + (s.z + s.w);
  if (gl_WorkGroupID.x == 0 && lane == 0) {
    [[unroll]] for (uint i = 0; i < 3; ++i) {
      const float x = i < p.tail ? imageLoad(tail_in, int(i)).x : 0.0;
      sum += x * x;
    }
  }
  out_[gl_WorkGroupID.x * 8 + lane] = sum;
}
