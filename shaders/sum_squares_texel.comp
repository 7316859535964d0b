#version 450
// sum_squares for CPU devices (lavapipe): out[8g + lane] = the sum of x^2 over the texels that lane
// `lane` of workgroup g owns (texel t belongs to lane t mod 8 of group (t / 8) mod G), plus, in
// lane 0 of group 0, the 0-3 floats past the last whole texel. The input is read as rgba32f texels
// (one inline, branch-free load for 8 lanes on lavapipe, where a storage-buffer load inside a loop
// is a loop over the lanes); 8 consecutive texels per load, so each load is 128 contiguous bytes.
// The order of additions depends only on n and G: results are reproducible bit for bit.

#extension GL_EXT_control_flow_attributes : require

layout(push_constant) uniform Push {
  uint texels;  // whole rgba32f texels in `in4`
  uint tail;    // floats in `tail_in` (0-3)
} p;

layout(local_size_x = 8) in;

layout(rgba32f, binding = 0) uniform readonly imageBuffer in4;
layout(r32f, binding = 1) uniform readonly imageBuffer tail_in;
layout(binding = 2) writeonly buffer Out { float out_[]; };

void main() {
  const uint lane = gl_LocalInvocationID.x;
  const uint stride = gl_NumWorkGroups.x * 8;
  const uint texels = p.texels;
  // two accumulators and two loads per iteration: two independent add chains (not tuned further)
  vec4 s0 = vec4(0.0), s1 = vec4(0.0);
  int t = int(gl_WorkGroupID.x * 8 + lane);
  const int step = int(stride);
  const uint pairs = texels / (2 * stride);  // iterations in which both loads are in range
  for (uint i = 0; i < pairs; ++i) {
    const vec4 x0 = imageLoad(in4, t), x1 = imageLoad(in4, t + step);
    s0 += x0 * x0;
    s1 += x1 * x1;
    t += 2 * step;
  }
  [[unroll]] for (uint r = 0; r < 2; ++r) {  // the last texels, fewer than 2 strides
    const vec4 x = uint(t) < texels ? imageLoad(in4, t) : vec4(0.0);
    s0 += x * x;
    t += step;
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
