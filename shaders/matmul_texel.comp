#version 450
// Matmul for CPU Vulkan devices (lavapipe), fp32, row-major; same maths and layouts as matmul.comp:
//   C (M,N) = op(A) · op(B) [+ bias (N)] [+ C when accumulate != 0]
//   NN: A (M,K), B (K,N)      NT (TRANS_B): B stored (N,K)      TN (TRANS_A): A stored (K,M)
// A and B are read as rgba32f storage texel buffers: on lavapipe (Mesa 22.3) an imageLoad is inline
// and branch-free (8 vector loads and a transpose for 8 lanes' vec4s), where every storage-buffer
// load inside a loop is a loop over the lanes. Values one lane loaded reach the others through
// subgroupShuffle with a constant lane (one vector permute); subgroupBroadcast would loop. One
// workgroup is one 8-lane subgroup; there is no shared memory and there are no barriers.
//   NN, NT: each lane owns R rows of C (m0 + 8r + lane) and all 8·CB columns of the tile. Per 4-k step
//     a lane loads A[m, k..k+3] (one texel per row it owns) and the 8 lanes together load the B panel
//     (4 k × 8 columns per texel load), which is broadcast column by column.
//   TN: each lane owns 4 rows (m0 + 4·lane + q: one texel of a stored (K,M) row of A, so the 8 lanes
//     read 128 contiguous bytes per k) and all 4·CB columns of the tile. Per 8-k step lane i loads
//     B[k0 + i, n0 + 4c .. +3] for each chunk c, and those values reach every lane by shuffles.
// The launcher guarantees that every texel lies inside its line (row strides and the texel-direction
// sizes are multiples of 4: lda, ldb % 4 == 0; NN, NT: K % 4 == 0; NN: N % 4 == 0; TN: M, N % 4 == 0).
// Rows and columns past the edge are clamped to valid texels (TN zeroes B's rows past K) and never
// stored.
// lavapipe's fma is a multiply and an add, and LLVM there neither unrolls nor hoists: the loops
// below are unrolled by hand and every index is kept in a running counter.

#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require

layout(push_constant) uniform Push {
  uint M;
  uint N;
  uint K;
  uint accumulate;
  uint lda;  // row strides in floats: A's stored rows, B's stored rows, C's rows
  uint ldb;
  uint ldc;
} p;

layout(local_size_x = 8) in;
// NN, NT: R rows per lane (BM = 8R), CB chunks of 8 columns (BN = 8CB).
// TN: R unused (BM = 32), CB chunks of 4 columns (BN = 4CB).
layout(constant_id = 0) const uint R = 2;
layout(constant_id = 1) const uint CB = 2;

// A16 / B16: that operand is f16, read through an rgba16f view (imageLoad converts to f32).
#ifdef A16
layout(rgba16f, binding = 0) uniform readonly imageBuffer A;
#else
layout(rgba32f, binding = 0) uniform readonly imageBuffer A;
#endif
#ifdef B16
layout(rgba16f, binding = 1) uniform readonly imageBuffer B;
#else
layout(rgba32f, binding = 1) uniform readonly imageBuffer B;
#endif
#ifdef BIAS
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) buffer C { float c[]; };
#else
layout(binding = 2) buffer C { float c[]; };
#endif

void store(uint m, uint n, float value) {
#ifdef BIAS
  value += bias[n];
#endif
  if (p.accumulate != 0) value += c[m * p.ldc + n];
  c[m * p.ldc + n] = value;
}

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint M = p.M, N = p.N, K = p.K;
  const uint lda4 = p.lda / 4, ldb4 = p.ldb / 4;
#ifndef TRANS_A
  const uint m0 = gl_WorkGroupID.y * 8 * R;
  const uint n0 = gl_WorkGroupID.x * 8 * CB;
  float acc[R][8 * CB];  // acc[r][j]: C[m0 + 8r + lane, n0 + j]
  [[unroll]] for (uint r = 0; r < R; ++r) [[unroll]] for (uint j = 0; j < 8 * CB; ++j) acc[r][j] = 0.0;
  int a_at[R];  // texel of A[m, k0 .. k0+3] for each owned row
  [[unroll]] for (uint r = 0; r < R; ++r) a_at[r] = int(min(m0 + 8 * r + lane, M - 1) * lda4);
  int b_at[CB];
#ifdef TRANS_B
  // lane j of chunk cc loads B[n0 + 8cc + j, k0 .. k0+3] (stored (N,K)): column j's 4 k-values
  [[unroll]] for (uint cc = 0; cc < CB; ++cc) b_at[cc] = int(min(n0 + 8 * cc + lane, N - 1) * ldb4);
  const int b_step = 1;
#else
  // lane 4h + kk of chunk cc loads B[k0 + kk, n0 + 8cc + 4h .. +3]: row kk's columns 4h .. 4h+3
  const uint n4_last = N / 4 - 1;
  [[unroll]] for (uint cc = 0; cc < CB; ++cc)
    b_at[cc] = int((lane & 3) * ldb4 + min(n0 / 4 + 2 * cc + (lane >> 2), n4_last));
  const int b_step = int(4 * ldb4);
#endif
  for (uint k0 = 0; k0 < K; k0 += 4) {
    vec4 a[R];
    [[unroll]] for (uint r = 0; r < R; ++r) {
      a[r] = imageLoad(A, a_at[r]);
      a_at[r] += 1;
    }
    [[unroll]] for (uint cc = 0; cc < CB; ++cc) {
      const vec4 bv = imageLoad(B, b_at[cc]);
      b_at[cc] += b_step;
      [[unroll]] for (uint kk = 0; kk < 4; ++kk) {
        [[unroll]] for (uint jj = 0; jj < 8; ++jj) {
#ifdef TRANS_B
          const float b = subgroupShuffle(bv[kk], jj);
#else
          const float b = subgroupShuffle(bv[jj & 3], kk + 4 * (jj >> 2));
#endif
          [[unroll]] for (uint r = 0; r < R; ++r) acc[r][8 * cc + jj] += a[r][kk] * b;
        }
      }
    }
  }
  [[unroll]] for (uint r = 0; r < R; ++r) {
    const uint m = m0 + 8 * r + lane;
    if (m < M) {
      [[unroll]] for (uint j = 0; j < 8 * CB; ++j)
        if (n0 + j < N) store(m, n0 + j, acc[r][j]);
    }
  }
#else  // TRANS_A
  // lane owns rows m0 + 4·lane + q (one texel of a stored (K,M) row of A), all 4·CB columns
  const uint m0 = gl_WorkGroupID.y * 32;
  const uint n0 = gl_WorkGroupID.x * 4 * CB;
  vec4 acc[4 * CB];  // acc[j][q]: C[m0 + 4·lane + q, n0 + j]
  [[unroll]] for (uint j = 0; j < 4 * CB; ++j) acc[j] = vec4(0.0);
  const int a_col = int(min(m0 / 4 + lane, M / 4 - 1));
  // lane i loads B[k0 + i, n0 + 4cb .. +3]; its values reach every lane by shuffles
  int b_at[CB];
  [[unroll]] for (uint cb = 0; cb < CB; ++cb) b_at[cb] = int(min(lane, K - 1) * ldb4 + min(n0 / 4 + cb, N / 4 - 1));
  const int b_step = int(8 * ldb4);
  uint k_lane = lane;  // k0 + lane
  for (uint k0 = 0; k0 < K; k0 += 8) {
    vec4 bv[CB];
    const bool k_ok = k_lane < K;  // rows past K are zero, so A's clamped rows add nothing
    [[unroll]] for (uint cb = 0; cb < CB; ++cb) {
      bv[cb] = k_ok ? imageLoad(B, b_at[cb]) : vec4(0.0);
      b_at[cb] = k_lane + 8 < K ? b_at[cb] + b_step : b_at[cb];
    }
    k_lane += 8;
    [[unroll]] for (uint i = 0; i < 8; ++i) {
      const vec4 a = imageLoad(A, int(min(k0 + i, K - 1) * lda4) + a_col);
      [[unroll]] for (uint cb = 0; cb < CB; ++cb)
        [[unroll]] for (uint q = 0; q < 4; ++q) acc[4 * cb + q] += a * subgroupShuffle(bv[cb][q], i);
    }
  }
  [[unroll]] for (uint q = 0; q < 4; ++q) {
    const uint m = m0 + 4 * lane + q;
    if (m < M) {
      [[unroll]] for (uint j = 0; j < 4 * CB; ++j)
        if (n0 + j < N) store(m, n0 + j, acc[j][q]);
    }
  }
#endif
}
