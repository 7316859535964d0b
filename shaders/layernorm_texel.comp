#version 450
// LayerNorm or RMSNorm for CPU devices (lavapipe), the maths of layernorm.comp (biased variance, eps
// from the push block; RMSNORM, HAS_WEIGHT, HAS_BIAS as there), for C % 4 == 0. Tensors are read
// as rgba32f texels (inline, branch-free loads on lavapipe, where storage-buffer loads inside a loop
// are loops over the lanes) and written as vec4s to storage buffers (lavapipe's imageStore streams
// at ~4 GB/s, a vec4 store at ~19: dev/README.md); dx, which the backward adds to, is bound twice:
// a texel view to read, a storage buffer to write. A workgroup is one 8-lane subgroup and needs no
// shared memory or barriers:
//   LAYERNORM_FORWARD, LAYERNORM_DX: each lane owns one row (row = 8·group + lane) and walks its C/4
//     texels itself, so every reduction is a lane's own serial sum (vec4, then x+y+z+w).
//   LAYERNORM_DPARAMS: each lane owns 4 channels (texel column 8·group + lane) and walks all N rows:
//     dweight[c] += sum_n dout·xhat, dbias[c] += sum_n dout, in row order.
// Every sum has a fixed order: bit-reproducible.

#extension GL_EXT_control_flow_attributes : require

layout(push_constant) uniform Push {
  uint N;
  uint C;
  float eps;
} p;

layout(local_size_x = 8) in;
// specialization constants, folded when the pipeline is built: no branch in any loop
layout(constant_id = 0) const bool RMSNORM = false;
layout(constant_id = 1) const bool HAS_WEIGHT = true;
layout(constant_id = 2) const bool HAS_BIAS = true;

#if defined(LAYERNORM_FORWARD)
layout(rgba32f, binding = 0) uniform readonly imageBuffer x4;
layout(rgba32f, binding = 1) uniform readonly imageBuffer weight4;
layout(rgba32f, binding = 2) uniform readonly imageBuffer bias4;
layout(binding = 3) writeonly buffer Out4 { vec4 out4[]; };
layout(binding = 4) writeonly buffer Mean { float mean[]; };
layout(binding = 5) writeonly buffer Rstd { float rstd[]; };
#elif defined(LAYERNORM_DX)
layout(rgba32f, binding = 0) uniform readonly imageBuffer dout4;
layout(rgba32f, binding = 1) uniform readonly imageBuffer x4;
layout(rgba32f, binding = 2) uniform readonly imageBuffer weight4;
layout(binding = 3) readonly buffer Mean { float mean[]; };
layout(binding = 4) readonly buffer Rstd { float rstd[]; };
layout(rgba32f, binding = 5) uniform readonly imageBuffer dx_in4;  // dx's memory, as read
layout(binding = 6) buffer DX4 { vec4 dx4[]; };                       // dx's memory, as written
#elif defined(LAYERNORM_DPARAMS)
layout(rgba32f, binding = 0) uniform readonly imageBuffer dout4;
layout(rgba32f, binding = 1) uniform readonly imageBuffer x4;
layout(r32f, binding = 2) uniform readonly imageBuffer mean1;
layout(r32f, binding = 3) uniform readonly imageBuffer rstd1;
layout(binding = 4) buffer DWeight { float dweight[]; };
layout(binding = 5) buffer DBias { float dbias[]; };
#else
#error "layernorm_texel.comp needs LAYERNORM_FORWARD, LAYERNORM_DX or LAYERNORM_DPARAMS"
#endif

float sum4(vec4 v) { return (v.x + v.y) + (v.z + v.w); }
#if defined(LAYERNORM_DPARAMS)
float mean_at(int n) { return RMSNORM ? 0.0 : imageLoad(mean1, n).x; }
#else
vec4 weight_at(int c4) { return HAS_WEIGHT ? imageLoad(weight4, c4) : vec4(1.0); }
#endif
#if defined(LAYERNORM_FORWARD)
vec4 bias_at(int c4) { return HAS_BIAS ? imageLoad(bias4, c4) : vec4(0.0); }
#endif

void main() {
  const uint N = p.N, C4 = p.C / 4;
  const float inv_c = 1.0 / float(p.C);
#if defined(LAYERNORM_FORWARD) || defined(LAYERNORM_DX)
  const uint row = gl_WorkGroupID.x * 8 + gl_LocalInvocationID.x;
  const int base = int(min(row, N - 1) * C4);  // lanes past N redo the last row and store nothing
#endif
#if defined(LAYERNORM_FORWARD)
  // each loop takes 4 texels per iteration while it can (lavapipe neither unrolls nor hoists, and
  // every iteration pays for its loop-carried values), adding them in the order of the plain loop
  const int C4i = int(C4), C4_4 = C4i / 4 * 4;
  int c = 0;
  float m = 0.0;
  if (!RMSNORM) {
    vec4 s = vec4(0.0);
    for (; c < C4_4; c += 4) {
      const vec4 x0 = imageLoad(x4, base + c), x1 = imageLoad(x4, base + c + 1);
      const vec4 x2 = imageLoad(x4, base + c + 2), x3 = imageLoad(x4, base + c + 3);
      s = (((s + x0) + x1) + x2) + x3;
    }
    for (; c < C4i; ++c) s += imageLoad(x4, base + c);
    m = sum4(s) * inv_c;
  }
  vec4 sq = vec4(0.0);
  for (c = 0; c < C4_4; c += 4) {
    const vec4 d0 = imageLoad(x4, base + c) - m, d1 = imageLoad(x4, base + c + 1) - m;
    const vec4 d2 = imageLoad(x4, base + c + 2) - m, d3 = imageLoad(x4, base + c + 3) - m;
    sq = (((sq + d0 * d0) + d1 * d1) + d2 * d2) + d3 * d3;
  }
  for (; c < C4i; ++c) {
    const vec4 d = imageLoad(x4, base + c) - m;
    sq += d * d;
  }
  const float r = inversesqrt(sum4(sq) * inv_c + p.eps);
  if (row < N) {
    for (c = 0; c < C4_4; c += 4) {
      [[unroll]] for (int u = 0; u < 4; ++u)
        out4[base + c + u] = (imageLoad(x4, base + c + u) - m) * r * weight_at(c + u) + bias_at(c + u);
    }
    for (; c < C4i; ++c) out4[base + c] = (imageLoad(x4, base + c) - m) * r * weight_at(c) + bias_at(c);
    mean[row] = m;
    rstd[row] = r;
  }
#elif defined(LAYERNORM_DX)
  const float m = RMSNORM ? 0.0 : mean[min(row, N - 1)], r = rstd[min(row, N - 1)];
  vec4 sg = vec4(0.0), sgx = vec4(0.0);  // sum g, sum g·xhat
  for (int c = 0; c < int(C4); ++c) {
    const vec4 g = imageLoad(dout4, base + c) * weight_at(c);
    sg += g;
    sgx += g * ((imageLoad(x4, base + c) - m) * r);
  }
  const float mg = RMSNORM ? 0.0 : sum4(sg) * inv_c, mgx = sum4(sgx) * inv_c;
  if (row < N) {
    for (int c = 0; c < int(C4); ++c) {
      const vec4 g = imageLoad(dout4, base + c) * weight_at(c);
      const vec4 xhat = (imageLoad(x4, base + c) - m) * r;
      dx4[base + c] = imageLoad(dx_in4, base + c) + r * (g - mg - xhat * mgx);
    }
  }
#else  // LAYERNORM_DPARAMS
  const uint c4 = gl_WorkGroupID.x * 8 + gl_LocalInvocationID.x;
  int at = int(min(c4, C4 - 1));  // lanes past C redo the last channels and store nothing
  // 4 rows per iteration (LLVM there does not unroll): 8 independent texel loads in flight
  vec4 dw = vec4(0.0), db = vec4(0.0);
  const int step = int(C4);
  uint n = 0;
  for (; n + 4 <= N; n += 4) {
    vec4 d[4], xh[4];
    [[unroll]] for (int u = 0; u < 4; ++u) {
      d[u] = imageLoad(dout4, at + u * step);
      xh[u] = (imageLoad(x4, at + u * step) - mean_at(int(n) + u)) * imageLoad(rstd1, int(n) + u).x;
    }
    [[unroll]] for (int u = 0; u < 4; ++u) {  // row order, as the tail
      dw += d[u] * xh[u];
      db += d[u];
    }
    at += 4 * step;
  }
  for (; n < N; ++n) {
    const vec4 d = imageLoad(dout4, at);
    dw += d * ((imageLoad(x4, at) - mean_at(int(n))) * imageLoad(rstd1, int(n)).x);
    db += d;
    at += step;
  }
  if (c4 < C4) {
    for (uint q = 0; q < 4; ++q) {
      dweight[4 * c4 + q] += dw[q];
      if (HAS_BIAS) dbias[4 * c4 + q] += db[q];
    }
  }
#endif
}
