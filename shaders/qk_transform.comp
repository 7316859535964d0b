#version 450
// The q/k transform of attention's input rows: parameter-free RMSNorm of each q and k head
// (QK-norm) and rotary position embedding (RoPE, half-split / GPT-NeoX convention), forward and
// backward. A row of qkv (width (NH + 2·NKV)·HS) is [q heads | k heads | v heads], head h at
// columns h·HS..; heads h < NH + NKV are transformed, the v heads copied. Row n sits at position
// pos0 + n % T. With r = rstd = 1/sqrt(mean(x²) + eps) (1 without QK_NORM) and (c, s) =
// table[pos][i], i < HS/2:
// FORWARD:  a = x[i]·r, b = x[i + HS/2]·r;  y[i] = a·c - b·s,  y[i + HS/2] = b·c + a·s
//           (without ROPE: y = x·r), rstd saved per (row, q/k head).
// BACKWARD: dx = J^T dy. The rotation's transpose first, u[i] = dy[i]·c + dy[i + HS/2]·s,
//           u[i + HS/2] = dy[i + HS/2]·c - dy[i]·s; then the RMSNorm backward with xhat = x·r:
//           dx = r·(u - xhat·mean(u·xhat)) (without QK_NORM: dx = u). v heads: dx = dy.
// QK_NORM and ROPE are specialization constants (one SPIR-V per pass; the driver folds the ifs).
// Invocations own one (row, head) each: lanes walk rows, workgroup row y is the head, so every
// branch on the head is uniform. Outputs may alias their input (y = x, dx = dy): an invocation
// reads all of its head for the sums before it writes, then reads elements i and i + HS/2 before
// it writes exactly those two. TEXEL (CPU devices): the inputs are read through r32f texel
// buffers (lavapipe's branch-free gathers instead of per-lane load loops); outputs are storage
// buffers either way (their stores remain per-lane on lavapipe).

layout(push_constant) uniform Push {
  uint rows;       // N
  uint T;          // row n is at position pos0 + n % T
  uint pos0;       // position of row 0 (decoding: the cache length)
  uint head_size;  // HS, even
  uint n_head;     // NH: q heads
  uint n_kv_head;  // NKV: k heads, and v heads
  uint out_first;  // FORWARD: y's first element inside its binding (bound from an aligned offset)
  float eps;       // RMSNorm epsilon
} p;

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool QK_NORM = false;
layout(constant_id = 2) const bool ROPE = false;

#ifdef TEXEL
layout(r32f, binding = 0) uniform readonly imageBuffer table_;  // (positions, HS/2, 2) cos, sin
layout(r32f, binding = 1) uniform readonly imageBuffer x_;      // (N, width) qkv_in
#define TABLE(i) imageLoad(table_, int(i)).x
#define X(i) imageLoad(x_, int(i)).x
#else
layout(binding = 0) readonly buffer Table { float table_[]; };  // (positions, HS/2, 2) cos, sin
layout(binding = 1) readonly buffer X { float x_[]; };          // (N, width) qkv_in
#define TABLE(i) table_[i]
#define X(i) x_[i]
#endif
#ifdef FORWARD
layout(binding = 2) writeonly buffer Rstd { float rstd[]; };  // (N, NH + NKV)
layout(binding = 3) writeonly buffer Y { float y[]; };        // (N, width) qkv_out, may alias x
#elif defined(BACKWARD)
layout(binding = 2) readonly buffer Rstd { float rstd[]; };   // (N, NH + NKV) from the forward
layout(binding = 3) writeonly buffer DX { float dx[]; };      // (N, width) dqkv_in, may alias dy
#ifdef TEXEL
layout(r32f, binding = 4) uniform readonly imageBuffer dy_;   // (N, width) dqkv_out
#define DY(i) imageLoad(dy_, int(i)).x
#else
layout(binding = 4) readonly buffer DY { float dy_[]; };      // (N, width) dqkv_out
#define DY(i) dy_[i]
#endif
#else
#error "qk_transform.comp needs FORWARD or BACKWARD"
#endif

#ifdef BACKWARD
// (dy[i], dy[i + HS/2]) rotated back by -angle: the transpose of the forward's rotation.
vec2 unrotated(uint base, uint half_, uint i, uint table_base) {
  const float g0 = DY(base + i), g1 = DY(base + half_ + i);
  if (!ROPE) return vec2(g0, g1);
  const float c = TABLE(table_base + 2 * i), s = TABLE(table_base + 2 * i + 1);
  return vec2(g0 * c + g1 * s, g1 * c - g0 * s);
}
#endif

void main() {
  const uint HS = p.head_size, half_ = HS / 2;
  const uint qk_heads = p.n_head + p.n_kv_head;
  const uint width = (qk_heads + p.n_kv_head) * HS;
  const uint head = gl_WorkGroupID.y;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint row = gl_GlobalInvocationID.x; row < p.rows; row += stride) {
    const uint base = row * width + head * HS;  // numel < 2^32, checked by the launcher
    const uint table_base = (p.pos0 + row % p.T) * HS;  // HS/2 (cos, sin) pairs per position
#ifdef FORWARD
    const uint out_base = p.out_first + base;
    if (head >= qk_heads) {  // v head
      for (uint i = 0; i < HS; ++i) y[out_base + i] = X(base + i);
      continue;
    }
    float r = 1.0;
    if (QK_NORM) {
      float ss = 0.0;
      for (uint i = 0; i < HS; ++i) {
        const float v = X(base + i);
        ss += v * v;
      }
      r = inversesqrt(ss / float(HS) + p.eps);
      rstd[row * qk_heads + head] = r;
    }
    for (uint i = 0; i < half_; ++i) {
      float a = X(base + i), b = X(base + half_ + i);
      if (QK_NORM) a *= r, b *= r;
      if (ROPE) {
        const float c = TABLE(table_base + 2 * i), s = TABLE(table_base + 2 * i + 1);
        const float a_rot = a * c - b * s;
        b = b * c + a * s;
        a = a_rot;
      }
      y[out_base + i] = a;
      y[out_base + half_ + i] = b;
    }
#else
    if (head >= qk_heads) {  // v head
      for (uint i = 0; i < HS; ++i) dx[base + i] = DY(base + i);
      continue;
    }
    float r = 1.0, m = 0.0;  // rstd, and mean(u·xhat) = r·sum(u·x)/HS
    if (QK_NORM) {
      r = rstd[row * qk_heads + head];
      float dot = 0.0;
      for (uint i = 0; i < half_; ++i) {
        const vec2 u = unrotated(base, half_, i, table_base);
        dot += u.x * X(base + i) + u.y * X(base + half_ + i);
      }
      m = r * dot / float(HS);
    }
    for (uint i = 0; i < half_; ++i) {
      vec2 u = unrotated(base, half_, i, table_base);
      if (QK_NORM) u = r * (u - vec2(X(base + i), X(base + half_ + i)) * (r * m));
      dx[base + i] = u.x;
      dx[base + half_ + i] = u.y;
    }
#endif
  }
}
