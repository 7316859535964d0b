#version 450
// LayerNorm or RMSNorm over the last dim of N rows of C floats (biased variance, eps from the push
// block). RMSNORM (a specialization constant) takes mean = 0 throughout, so that
// rstd = 1/sqrt(mean_c(x^2) + eps) and xhat = x*rstd.
//   LAYERNORM_FORWARD: mean = sum(x)/C, rstd = 1/sqrt(sum((x-mean)^2)/C + eps), xhat = (x-mean)*rstd,
//     out = xhat*weight + bias; also writes mean[n] and rstd[n]. One workgroup per row (grid-stride).
//   LAYERNORM_DX: with g = dout*weight (the gradient w.r.t. xhat),
//     dx += rstd * (g - mean_c(g) - xhat * mean_c(g*xhat))   (ACCUMULATES). One workgroup per row.
//     RMSNORM: dx += rstd * (g - xhat * mean_c(g*xhat)) (no mean was subtracted, so no mean_c(g)).
//   LAYERNORM_DPARAMS: dweight[c] += sum_n dout*xhat, dbias[c] += sum_n dout. Workgroups of
//     (channels x row lanes): lane y sums rows y, y+Y, ... in order, then a fixed tree over y.
// HAS_WEIGHT / HAS_BIAS false: weight = 1 / bias = 0 (and no dbias; DPARAMS runs only with a
// weight), their bindings never read or written, so the launcher binds a stand-in there. The flags
// are specialization constants, folded away when the pipeline is built.
// Every reduction has a fixed order (sequential per invocation, then a tree): bit-reproducible.
// Workgroup sizes are powers of two (the launcher checks); the trees halve them.

layout(push_constant) uniform Push {
  uint N;
  uint C;
  float eps;
} p;

layout(constant_id = 0) const bool RMSNORM = false;
layout(constant_id = 1) const bool HAS_WEIGHT = true;
layout(constant_id = 2) const bool HAS_BIAS = true;
#if defined(LAYERNORM_DPARAMS)
layout(local_size_x_id = 3, local_size_y_id = 4) in;  // x: channels, y: row lanes
#else
layout(local_size_x_id = 3) in;
#endif

#if defined(LAYERNORM_FORWARD)
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) readonly buffer Weight { float weight[]; };
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) writeonly buffer Out { float out_[]; };
layout(binding = 4) writeonly buffer Mean { float mean[]; };
layout(binding = 5) writeonly buffer Rstd { float rstd[]; };
#elif defined(LAYERNORM_DX)
layout(binding = 0) readonly buffer DOut { float dout[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) readonly buffer Weight { float weight[]; };
layout(binding = 3) readonly buffer Mean { float mean[]; };
layout(binding = 4) readonly buffer Rstd { float rstd[]; };
layout(binding = 5) buffer DX { float dx[]; };
#elif defined(LAYERNORM_DPARAMS)
layout(binding = 0) readonly buffer DOut { float dout[]; };
layout(binding = 1) readonly buffer X { float x[]; };
layout(binding = 2) readonly buffer Mean { float mean[]; };
layout(binding = 3) readonly buffer Rstd { float rstd[]; };
layout(binding = 4) buffer DWeight { float dweight[]; };
layout(binding = 5) buffer DBias { float dbias[]; };
#else
#error "layernorm.comp needs LAYERNORM_FORWARD, LAYERNORM_DX or LAYERNORM_DPARAMS"
#endif

#if defined(LAYERNORM_DPARAMS)
shared vec2 partial[gl_WorkGroupSize.x * gl_WorkGroupSize.y];
#else
shared vec2 partial[gl_WorkGroupSize.x];

// Sum of v over the workgroup in a fixed tree order; every invocation gets the result.
vec2 workgroup_sum(vec2 v) {
  const uint tid = gl_LocalInvocationID.x;
  partial[tid] = v;
  barrier();
  for (uint width = gl_WorkGroupSize.x / 2; width > 0; width /= 2) {
    if (tid < width) partial[tid] += partial[tid + width];
    barrier();
  }
  const vec2 total = partial[0];
  barrier();  // partial is reused by the next call
  return total;
}
#endif

#if !defined(LAYERNORM_DPARAMS)
float weight_at(uint c) { return HAS_WEIGHT ? weight[c] : 1.0; }
#endif

void main() {
#if defined(LAYERNORM_FORWARD)
  const uint tid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < p.N; row += gl_NumWorkGroups.x) {
    const uint base = row * p.C;
    float m = 0.0;
    if (!RMSNORM) {
      float sum = 0.0;
      for (uint c = tid; c < p.C; c += gl_WorkGroupSize.x) sum += x[base + c];
      m = workgroup_sum(vec2(sum, 0.0)).x / float(p.C);
    }
    float sq = 0.0;
    for (uint c = tid; c < p.C; c += gl_WorkGroupSize.x) {
      const float d = x[base + c] - m;
      sq += d * d;
    }
    const float r = inversesqrt(workgroup_sum(vec2(sq, 0.0)).x / float(p.C) + p.eps);
    for (uint c = tid; c < p.C; c += gl_WorkGroupSize.x)
      out_[base + c] = (x[base + c] - m) * r * weight_at(c) + (HAS_BIAS ? bias[c] : 0.0);
    if (tid == 0) {
      mean[row] = m;
      rstd[row] = r;
    }
  }
#elif defined(LAYERNORM_DX)
  const uint tid = gl_LocalInvocationID.x;
  for (uint row = gl_WorkGroupID.x; row < p.N; row += gl_NumWorkGroups.x) {
    const uint base = row * p.C;
    const float m = RMSNORM ? 0.0 : mean[row], r = rstd[row];
    vec2 sums = vec2(0.0);  // (sum g, sum g*xhat)
    for (uint c = tid; c < p.C; c += gl_WorkGroupSize.x) {
      const float g = dout[base + c] * weight_at(c);
      sums += vec2(g, g * ((x[base + c] - m) * r));
    }
    const vec2 means = workgroup_sum(sums) / float(p.C);
    const float mg = RMSNORM ? 0.0 : means.x;
    for (uint c = tid; c < p.C; c += gl_WorkGroupSize.x) {
      const float g = dout[base + c] * weight_at(c);
      const float xhat = (x[base + c] - m) * r;
      dx[base + c] += r * (g - mg - xhat * means.y);
    }
  }
#else  // LAYERNORM_DPARAMS
  const uint lx = gl_LocalInvocationID.x, ly = gl_LocalInvocationID.y;
  const uint c = gl_GlobalInvocationID.x;
  vec2 sums = vec2(0.0);  // (sum dout*xhat, sum dout)
  if (c < p.C) {
    for (uint row = ly; row < p.N; row += gl_WorkGroupSize.y) {
      const float d = dout[row * p.C + c];
      sums += vec2(d * ((x[row * p.C + c] - (RMSNORM ? 0.0 : mean[row])) * rstd[row]), d);
    }
  }
  partial[ly * gl_WorkGroupSize.x + lx] = sums;
  barrier();
  for (uint width = gl_WorkGroupSize.y / 2; width > 0; width /= 2) {
    if (ly < width) partial[ly * gl_WorkGroupSize.x + lx] += partial[(ly + width) * gl_WorkGroupSize.x + lx];
    barrier();
  }
  if (ly == 0 && c < p.C) {
    dweight[c] += partial[lx].x;
    if (HAS_BIAS) dbias[c] += partial[lx].y;
  }
#endif
}
