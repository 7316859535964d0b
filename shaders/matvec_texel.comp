#version 450
// A few rows of C = A · Bᵀ (+ bias) on CPU devices (lavapipe): the NT matmul of KV-cache decoding,
// where A (M,K) is one token's activations (M <= 4) and B (N,K) a weight matrix, read once.
//   C[m, n] = sum_k A[m, k] · B[n, k] [+ bias[n]] [+ C[m, n] when accumulate != 0]
// A and B are rgba32f texel buffers (inline, branch-free loads on lavapipe, where storage-buffer
// loads inside a loop are loops over the lanes); the launcher guarantees K, lda, ldb % 4 == 0.
// One workgroup is one 8-lane subgroup computing 8·NB columns for all M rows: lane j owns columns
// n0 + 8c + j (c < NB) and walks their B rows 4 k at a time; the A values every lane needs arrive as
// one lane-varying texel load per 32 k (lane i holds A[m, k0 + 4i .. +3]) spread by subgroupShuffle
// with constant lanes. Columns past N are clamped to a valid row and not stored.
// NORM (with BIAS): A is the LayerNorm or RMSNorm of the rows of X, applied on the fly (decoding's
// norm + projection in one dispatch, where each dispatch costs ~25 us on lavapipe): every
// workgroup first takes the mean and rstd of its M rows (biased variance, eps = EPS; lane partial
// sums over texels lane, lane + 8, .. merged by xor-shuffles), then reads
// a = (x - mean) · rstd · ln_weight + ln_bias wherever the plain kernel reads A. The specialization
// constants RMSNORM (mean = 0: rstd = 1/sqrt(mean(x²) + eps)), HAS_WEIGHT and HAS_BIAS (false:
// ln_weight = 1, ln_bias = 0, their bindings unread) fold away when the pipeline is built.
// GELU or RELU2 (with BIAS and NORM): C = act(...) (gelu_math.glsl), the MLP's first projection.

#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_GOOGLE_include_directive : require
#define VALUE float
#include "gelu_math.glsl"

layout(push_constant) uniform Push {  // matmul's push block
  uint M;
  uint N;
  uint K;
  uint accumulate;
  uint lda;
  uint ldb;
  uint ldc;
} p;

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint MR = 1;  // rows of A and C (1..4)
layout(constant_id = 1) const uint NB = 2;  // 8-column chunks per workgroup

layout(rgba32f, binding = 0) uniform readonly imageBuffer A;
layout(rgba32f, binding = 1) uniform readonly imageBuffer B;
#ifdef BIAS
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) buffer C { float c[]; };
#ifdef NORM
layout(rgba32f, binding = 4) uniform readonly imageBuffer ln_weight;
layout(rgba32f, binding = 5) uniform readonly imageBuffer ln_bias;
layout(constant_id = 2) const float EPS = 1e-5;
layout(constant_id = 3) const bool RMSNORM = false;
layout(constant_id = 4) const bool HAS_WEIGHT = true;
layout(constant_id = 5) const bool HAS_BIAS = true;
#endif
#else
layout(binding = 2) buffer C { float c[]; };
#endif

#ifdef NORM
float lanes_sum(float v) {  // the sum over the 8 lanes, in every lane
  v += subgroupShuffleXor(v, 1);
  v += subgroupShuffleXor(v, 2);
  return v + subgroupShuffleXor(v, 4);
}
float mean_[MR], rstd_[MR];
// A[m, 4·k4 .. +3] as the norm's output
vec4 normed(uint m, vec4 x, int k4) {
  return (x - mean_[m]) * rstd_[m] * (HAS_WEIGHT ? imageLoad(ln_weight, k4) : vec4(1.0)) +
         (HAS_BIAS ? imageLoad(ln_bias, k4) : vec4(0.0));
}
#define A_AT(m, x, k4) normed(m, x, int(k4))
#else
#define A_AT(m, x, k4) (x)
#endif

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint N = p.N, K4 = p.K / 4, lda4 = p.lda / 4, ldb4 = p.ldb / 4;
#ifdef NORM
  [[unroll]] for (uint m = 0; m < MR; ++m) {
    mean_[m] = 0.0;
    if (!RMSNORM) {
      vec4 s = vec4(0.0);
      for (uint k4 = lane; k4 < K4; k4 += 8) s += imageLoad(A, int(m * lda4 + k4));
      mean_[m] = lanes_sum((s.x + s.y) + (s.z + s.w)) / float(p.K);
    }
    vec4 q = vec4(0.0);
    for (uint k4 = lane; k4 < K4; k4 += 8) {
      const vec4 d = imageLoad(A, int(m * lda4 + k4)) - mean_[m];
      q += d * d;
    }
    rstd_[m] = inversesqrt(lanes_sum((q.x + q.y) + (q.z + q.w)) / float(p.K) + EPS);
  }
#endif
  const uint n0 = gl_WorkGroupID.x * 8 * NB;
  vec4 acc[MR][NB];  // per-k-lane partial sums, added up at the end
  [[unroll]] for (uint m = 0; m < MR; ++m) [[unroll]] for (uint cb = 0; cb < NB; ++cb) acc[m][cb] = vec4(0.0);
  int b_at[NB];
  [[unroll]] for (uint cb = 0; cb < NB; ++cb) b_at[cb] = int(min(n0 + 8 * cb + lane, N - 1) * ldb4);
  int a_at[MR];
  [[unroll]] for (uint m = 0; m < MR; ++m) a_at[m] = int(m * lda4 + lane);
  // 32 k per iteration while all 8 lanes' A texels lie inside K, then 4 k at a time
  const uint full = K4 / 8;
  for (uint it = 0; it < full; ++it) {
    vec4 a[MR];
    [[unroll]] for (uint m = 0; m < MR; ++m) {
      a[m] = A_AT(m, imageLoad(A, a_at[m]), 8 * it + lane);
      a_at[m] += 8;
    }
    [[unroll]] for (uint i = 0; i < 8; ++i) {
      [[unroll]] for (uint cb = 0; cb < NB; ++cb) {
        const vec4 b = imageLoad(B, b_at[cb] + int(i));
        [[unroll]] for (uint m = 0; m < MR; ++m) {
          const vec4 av = vec4(subgroupShuffle(a[m].x, i), subgroupShuffle(a[m].y, i), subgroupShuffle(a[m].z, i),
                               subgroupShuffle(a[m].w, i));
          acc[m][cb] += av * b;
        }
      }
    }
    [[unroll]] for (uint cb = 0; cb < NB; ++cb) b_at[cb] += 8;
  }
  for (uint k4 = full * 8; k4 < K4; ++k4) {  // the last K/4 mod 8 texels: A read uniformly
    [[unroll]] for (uint cb = 0; cb < NB; ++cb) {
      const vec4 b = imageLoad(B, b_at[cb]);
      b_at[cb] += 1;
      [[unroll]] for (uint m = 0; m < MR; ++m) acc[m][cb] += A_AT(m, imageLoad(A, int(m * lda4 + k4)), k4) * b;
    }
  }
  [[unroll]] for (uint cb = 0; cb < NB; ++cb) {
    const uint n = n0 + 8 * cb + lane;
    if (n < N) {
      [[unroll]] for (uint m = 0; m < MR; ++m) {
        float value = (acc[m][cb].x + acc[m][cb].y) + (acc[m][cb].z + acc[m][cb].w);
#ifdef BIAS
        value += bias[n];
#endif
#if defined(GELU)
        value = gelu(value);
#elif defined(RELU2)
        value = relu2(value);
#endif
        if (p.accumulate != 0) value += c[m * p.ldc + n];
        c[m * p.ldc + n] = value;
      }
    }
  }
}
