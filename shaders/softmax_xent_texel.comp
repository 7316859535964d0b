#version 450
// Fused softmax cross-entropy for CPU devices (lavapipe), the maths of softmax_xent.comp, for
// V % 4 == 0 with logits read as rgba32f texels (inline, branch-free loads on lavapipe, where
// storage-buffer loads inside a loop are loops over the lanes) and dlogits written as vec4s to a
// storage buffer (lavapipe's imageStore streams at ~4 GB/s, a vec4 store at ~19: dev/README.md):
//   losses[n]     = logsumexp(x[n]) - x[n][t]      (t = targets[n]; 0 where t == -1)
//   dlogits[n][j] = (softmax(x[n])[j] - [j == t]) * dloss_scale      (all zeros where t == -1)
//   softcap > 0: x = cap·tanh(z/cap) was capped already and dlogits is w.r.t. z: the above times
//   1 - (x/cap)² (clamped at 0 against rounding)
// A workgroup is one 8-lane subgroup and each lane owns one row (row = 8·group + lane), so the max and
// sum of exp are a lane's own online pass (per texel component, then the 4 components merged in a
// fixed order): reproducible, no shared memory or barriers. dlogits may alias logits: a lane reads
// x[j] and then writes only dlogits[j] of its own row. A target outside [-1, V) gives a NaN loss.

#extension GL_EXT_control_flow_attributes : require

layout(push_constant) uniform Push {
  uint rows;          // N
  uint vocab;         // V
  float softcap;      // > 0: the logits are cap·tanh(z/cap), dlogits is w.r.t. z; 0: plain
} p;

layout(local_size_x = 8) in;

layout(rgba32f, binding = 0) uniform readonly imageBuffer logits4;    // (N, V)
layout(binding = 1) readonly buffer Targets { int targets[]; };       // (N)
layout(binding = 2) writeonly buffer Losses { float losses[]; };      // (N)
layout(binding = 3) writeonly buffer DLogits4 { vec4 dlogits4[]; };  // (N, V), may alias logits
layout(binding = 4) readonly buffer Scale { float dloss_scale; };      // multiplies every dlogits element

const float kLowest = -3.402823466e38;  // not -inf: keeps exp(m - max) finite

// (m, s) with s = sum exp(x - m), merged with (m2, s2) into the same form around max(m, m2).
void merge(inout float m, inout float s, float m2, float s2) {
  const float mx = max(m, m2);
  s = s * exp(m - mx) + s2 * exp(m2 - mx);
  m = mx;
}

void main() {
  const uint row = gl_WorkGroupID.x * 8 + gl_LocalInvocationID.x;
  const uint r = min(row, p.rows - 1);  // lanes past N redo the last row and store nothing
  const uint V4 = p.vocab / 4;
  const int base = int(r * V4);
  const int target = targets[r];
  const bool valid = target >= 0 && uint(target) < p.vocab;
  const float x_target = valid ? imageLoad(logits4, base + target / 4)[target % 4] : 0.0;  // before any write

  // online max and sum per component: one exp per element, no divergent branch
  vec4 m = vec4(kLowest), s = vec4(0.0);
  for (int c = 0; c < int(V4); ++c) {
    const vec4 x = imageLoad(logits4, base + c);
    const vec4 e = exp(-abs(x - m));
    s = mix(s + e, s * e + 1.0, greaterThan(x, m));
    m = max(m, x);
  }
  float row_max = m.x, row_sum = s.x;
  merge(row_max, row_sum, m.y, s.y);
  merge(row_max, row_sum, m.z, s.z);
  merge(row_max, row_sum, m.w, s.w);

  if (row >= p.rows) return;
  losses[row] = target == -1 ? 0.0 : valid ? (row_max - x_target) + log(row_sum) : uintBitsToFloat(0x7fc00000u);
  const float scale = target == -1 ? 0.0 : dloss_scale;
  const float inv_sum = 1.0 / row_sum;
  ivec4 j = ivec4(0, 1, 2, 3);
  for (int c = 0; c < int(V4); ++c) {
    const vec4 x = imageLoad(logits4, base + c);
    const vec4 prob = exp(x - row_max) * inv_sum;
    vec4 d = (prob - vec4(equal(j, ivec4(target)))) * scale;
    if (p.softcap > 0.0) {  // uniform: the push constant
      const vec4 r = x / p.softcap;
      d *= max(1.0 - r * r, 0.0);
    }
    dlogits4[base + c] = d;
    j += 4;
  }
}
