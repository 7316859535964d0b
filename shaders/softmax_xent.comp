#version 450
// Fused softmax cross-entropy, forward and backward, one workgroup per row n of logits x (N, V):
//   losses[n]     = logsumexp(x[n]) - x[n][t]                      (t = targets[n]; 0 where t == -1)
//   dlogits[n][j] = d(losses[n])/d(x[n][j]) * dloss_scale = (softmax(x[n])[j] - [j == t]) * dloss_scale
//                   (all zeros where t == -1)
// softcap > 0: the logits given are already capped, x = cap·tanh(z/cap), and dlogits is the
// gradient w.r.t. the uncapped z: the above times dx/dz = 1 - (x/cap)² (clamped at 0 against
// rounding).
// Max and sum of exp come from one online pass (running max, rescaled sum) and a fixed-order tree over
// the workgroup: numerically stable and reproducible. dlogits may alias logits: every read of a row's
// other elements happens before the barriers of the tree, and the write pass reads x[j] and then
// writes only dlogits[j] in the same invocation. A target outside [-1, V) gives a NaN loss (visible
// rather than silently wrong) and no one-hot term.

layout(push_constant) uniform Push {
  uint rows;          // N of this dispatch
  uint vocab;         // V
  float softcap;      // > 0: the logits are cap·tanh(z/cap), dlogits is w.r.t. z; 0: plain
} p;

layout(local_size_x_id = 0) in;  // a power of two (checked by the launcher)

layout(binding = 0) readonly buffer Logits { float logits[]; };    // (N, V)
layout(binding = 1) readonly buffer Targets { int targets[]; };    // (N)
layout(binding = 2) writeonly buffer Losses { float losses[]; };   // (N)
layout(binding = 3) writeonly buffer DLogits { float dlogits[]; }; // (N, V), may alias logits
// multiplies every dlogits element (e.g. 1 / number of counted targets); a buffer, not a push
// constant, so that a recorded training step replays with each batch's own count
layout(binding = 4) readonly buffer Scale { float dloss_scale; };

shared float s_max[gl_WorkGroupSize.x];
shared float s_sum[gl_WorkGroupSize.x];

const float kLowest = -3.402823466e38;  // not -inf: keeps exp(m - max) finite for empty lanes

// (m, s) with s = sum exp(x - m), merged with (m2, s2) into the same form around max(m, m2).
void merge(inout float m, inout float s, float m2, float s2) {
  const float mx = max(m, m2);
  s = s * exp(m - mx) + s2 * exp(m2 - mx);
  m = mx;
}

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const float scale = dloss_scale;  // read once: a storage-buffer load in a loop is a loop on lavapipe
  for (uint row = gl_WorkGroupID.x; row < p.rows; row += gl_NumWorkGroups.x) {
    const int target = targets[row];
    const uint base = row * p.vocab;  // numel < 2^32, checked by the launcher
    if (target == -1) {  // ignored position: uniform across the workgroup
      for (uint j = tid; j < p.vocab; j += gl_WorkGroupSize.x) dlogits[base + j] = 0.0;
      if (tid == 0) losses[row] = 0.0;
      continue;
    }
    const bool valid = target >= 0 && uint(target) < p.vocab;
    const float x_target = (tid == 0 && valid) ? logits[base + uint(target)] : 0.0;  // read before any write

    // online max and sum: one exp per element, no divergent branch
    float m = kLowest, s = 0.0;
    for (uint j = tid; j < p.vocab; j += gl_WorkGroupSize.x) {
      const float x = logits[base + j];
      const float e = exp(-abs(x - m));
      s = x > m ? s * e + 1.0 : s + e;
      m = max(m, x);
    }
    s_max[tid] = m;
    s_sum[tid] = s;
    barrier();
    for (uint width = gl_WorkGroupSize.x / 2; width > 0; width /= 2) {
      if (tid < width) {
        merge(m, s, s_max[tid + width], s_sum[tid + width]);
        s_max[tid] = m;
        s_sum[tid] = s;
      }
      barrier();
    }
    const float row_max = s_max[0], row_sum = s_sum[0];
    barrier();  // everyone has read slot 0 before the next row overwrites it

    if (tid == 0) losses[row] = valid ? (row_max - x_target) + log(row_sum) : uintBitsToFloat(0x7fc00000u);
    for (uint j = tid; j < p.vocab; j += gl_WorkGroupSize.x) {
      const float x = logits[base + j];
      const float prob = exp(x - row_max) / row_sum;
      float d = (prob - (int(j) == target ? 1.0 : 0.0)) * scale;
      if (p.softcap > 0.0) {  // uniform: the push constant
        const float r = x / p.softcap;
        d *= max(1.0 - r * r, 0.0);
      }
      dlogits[base + j] = d;
    }
  }
}
