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
//   TN: each lane owns 4 columns (n0 + 32c + 4·lane + q) and all TM rows of the tile. Per 8-k step
//     lane j loads A[m0 .. m0+TM-1, k0 + j] (TM/4 texels of the stored (K,M) row), broadcast row by
//     row, and every lane loads its own columns of the 8 B rows.
// The launcher guarantees that every texel lies inside its line (row strides and the texel-direction
// sizes are multiples of 4: lda, ldb % 4 == 0; NN, NT: K % 4 == 0; NN: N % 4 == 0; TN: M, N % 4 == 0).
// Rows and columns past the edge are clamped to valid texels (TN zeroes k past K) and never stored.
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
// TN: R = TM rows shared by the lanes (a multiple of 4; BM = TM), CB chunks of 32 columns (BN = 32CB).
layout(constant_id = 0) const uint R = 2;
layout(constant_id = 1) const uint CB = 2;

layout(rgba32f, binding = 0) uniform readonly imageBuffer A;
layout(rgba32f, binding = 1) uniform readonly imageBuffer B;
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
#else
  const uint m0 = gl_WorkGroupID.y * R;
  const uint n0 = gl_WorkGroupID.x * 32 * CB;
  vec4 acc[R][CB];  // acc[i][cc][q]: C[m0 + i, n0 + 32cc + 4·lane + q]
  [[unroll]] for (uint i = 0; i < R; ++i) [[unroll]] for (uint cc = 0; cc < CB; ++cc) acc[i][cc] = vec4(0.0);
  // lane j loads A[m0 .. m0+R-1, k0 + j]: texels (k0 + j, m0/4 + g), g < R/4, of the stored (K,M) A
  const uint m4_last = M / 4 - 1;
  int a_col[R / 4];
  [[unroll]] for (uint g = 0; g < R / 4; ++g) a_col[g] = int(min(m0 / 4 + g, m4_last));
  int a_row = int(min(lane, K - 1) * lda4);
  uint k_lane = lane;  // k0 + lane
  const int a_step = int(8 * lda4);
  int b_at[CB];  // texel of B[k, n0 + 32cc + 4·lane .. +3]
  [[unroll]] for (uint cc = 0; cc < CB; ++cc) b_at[cc] = int(min(n0 / 4 + 8 * cc + lane, N / 4 - 1));
  const uint last_row = (K - 1) * ldb4;
  for (uint k0 = 0; k0 < K; k0 += 8) {
    vec4 a[R / 4];
    const bool k_ok = k_lane < K;
    [[unroll]] for (uint g = 0; g < R / 4; ++g) a[g] = k_ok ? imageLoad(A, a_row + a_col[g]) : vec4(0.0);
    a_row = k_lane + 8 < K ? a_row + a_step : a_row;  // lanes past K keep a valid row
    k_lane += 8;
    [[unroll]] for (uint kk = 0; kk < 8; ++kk) {
      [[unroll]] for (uint cc = 0; cc < CB; ++cc) {
        // rows past K meet zero A values; their texel is clamped to the last row
        const vec4 bv = imageLoad(B, int(min((k0 + kk) * ldb4, last_row)) + b_at[cc]);
        [[unroll]] for (uint i = 0; i < R; ++i)
          acc[i][cc] += subgroupShuffle(a[i / 4][i % 4], kk) * bv;
      }
    }
  }
  [[unroll]] for (uint i = 0; i < R; ++i) {
    const uint m = m0 + i;
    if (m < M) {
      [[unroll]] for (uint cc = 0; cc < CB; ++cc) [[unroll]] for (uint q = 0; q < 4; ++q) {
        const uint n = n0 + 32 * cc + 4 * lane + q;
        if (n < N) store(m, n, acc[i][cc][q]);
      }
    }
  }
#endif
}
