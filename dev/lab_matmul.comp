#version 450
// LAB: texel-buffer matmul experiments, NN only: C (M,N) = A (M,K) · B (K,N); K, N % 4 == 0.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require

layout(push_constant) uniform Push { uint M; uint N; uint K; } p;
layout(local_size_x = 8) in;
layout(constant_id = 0) const uint R = 2;    // ROWS: row groups of 8 per lane-set; COLS: rows TM
layout(constant_id = 1) const uint CB = 1;   // ROWS: 8-column chunks; COLS: 32-column chunks
layout(constant_id = 2) const uint KU = 1;   // ROWS: k quads per loop iteration

layout(rgba32f, binding = 0) uniform readonly imageBuffer A;
layout(rgba32f, binding = 1) uniform readonly imageBuffer B;
layout(binding = 2) buffer Cbuf { float c[]; };

void main() {
  const uint l = gl_SubgroupInvocationID;
  const uint K4 = p.K / 4, N4 = p.N / 4;
#ifdef ROWS
  // lanes own rows m0 + 8r + l, share columns n0 .. n0 + 8CB
  const uint m0 = gl_WorkGroupID.y * 8 * R;
  const uint n0 = gl_WorkGroupID.x * 8 * CB;
  vec4 acc[R][CB][2];  // acc[r][c][h][q]: column n0 + 8c + 4h + q
  [[unroll]] for (uint r = 0; r < R; ++r) [[unroll]] for (uint cc = 0; cc < CB; ++cc) { acc[r][cc][0] = vec4(0); acc[r][cc][1] = vec4(0); }
#ifdef PACKED
  // timing only: A panels (8R rows) stored [k4][row][4], B panels (8CB cols) stored [k4][kk][chunk][h]
  int a_idx[R];
  [[unroll]] for (uint r = 0; r < R; ++r) a_idx[r] = int(gl_WorkGroupID.y * 8 * R * K4 + 8 * r + l);
  int b_idx[CB];
  [[unroll]] for (uint cc = 0; cc < CB; ++cc) b_idx[cc] = int(gl_WorkGroupID.x * 8 * CB * K4 + 8 * cc + l);
  const int b_step = int(8 * CB);
  const int a_step = int(8 * R);
#else
  int a_idx[R];
  [[unroll]] for (uint r = 0; r < R; ++r) a_idx[r] = int(min(m0 + 8 * r + l, p.M - 1) * K4);
  int b_idx[CB];
  [[unroll]] for (uint cc = 0; cc < CB; ++cc) b_idx[cc] = int((l & 3) * N4 + min((n0 + 8 * cc) / 4 + (l >> 2), N4 - 1));
  const int b_step = int(p.N);  // 4 rows of N/4 texels
  const int a_step = 1;
#endif
  const uint K = p.K;
  for (uint k0 = 0; k0 < K; k0 += 4 * KU) {
    [[unroll]] for (uint u = 0; u < KU; ++u) {
    vec4 a[R];
    [[unroll]] for (uint r = 0; r < R; ++r) a[r] = imageLoad(A, a_idx[r] + int(u) * a_step);
    [[unroll]] for (uint cc = 0; cc < CB; ++cc) {
      const vec4 bv = imageLoad(B, b_idx[cc] + int(u) * b_step);
      [[unroll]] for (uint kk = 0; kk < 4; ++kk) {
        [[unroll]] for (uint h = 0; h < 2; ++h) {
          vec4 b;
          b.x = subgroupShuffle(bv.x, kk + 4 * h);
          b.y = subgroupShuffle(bv.y, kk + 4 * h);
          b.z = subgroupShuffle(bv.z, kk + 4 * h);
          b.w = subgroupShuffle(bv.w, kk + 4 * h);
          [[unroll]] for (uint r = 0; r < R; ++r) acc[r][cc][h] = fma(vec4(a[r][kk]), b, acc[r][cc][h]);
        }
      }
    }
    }
    [[unroll]] for (uint r = 0; r < R; ++r) a_idx[r] += int(KU) * a_step;
    [[unroll]] for (uint cc = 0; cc < CB; ++cc) b_idx[cc] += b_step * int(KU);
  }
  [[unroll]] for (uint r = 0; r < R; ++r) {
    const uint m = m0 + 8 * r + l;
    if (m < p.M) {
      [[unroll]] for (uint cc = 0; cc < CB; ++cc) [[unroll]] for (uint h = 0; h < 2; ++h) [[unroll]] for (uint q = 0; q < 4; ++q) {
        const uint n = n0 + 8 * cc + 4 * h + q;
        if (n < p.N) c[m * p.N + n] = acc[r][cc][h][q];
      }
    }
  }
#else
  // COLS: lanes own columns n0 + 32c + 4l + q, share R rows; 8 k per step (K % 8 == 0 here)
  const uint m0 = gl_WorkGroupID.y * R;
  const uint n0 = gl_WorkGroupID.x * 32 * CB;
  vec4 acc[R][CB];
  [[unroll]] for (uint r = 0; r < R; ++r) [[unroll]] for (uint cc = 0; cc < CB; ++cc) acc[r][cc] = vec4(0);
  // lane l loads A[m0 + (l % R), k0 + 4 (l / R) ..]: R rows x (8/R) k-quads
  const uint KQ = 8 / R;  // k quads per step
  int a_idx = int(min(m0 + (l % R), p.M - 1) * K4 + (l / R));
  int b_idx[CB];
  [[unroll]] for (uint cc = 0; cc < CB; ++cc) b_idx[cc] = int(min(n0 / 4 + 8 * cc + l, N4 - 1));
  for (uint k0 = 0; k0 < p.K; k0 += 4 * KQ) {
    const vec4 av = imageLoad(A, a_idx);
    a_idx += int(KQ);
    [[unroll]] for (uint g = 0; g < KQ; ++g) {
      [[unroll]] for (uint kk = 0; kk < 4; ++kk) {
        [[unroll]] for (uint cc = 0; cc < CB; ++cc) {
          const vec4 bv = imageLoad(B, b_idx[cc]);
          b_idx[cc] += int(N4);
          [[unroll]] for (uint r = 0; r < R; ++r) acc[r][cc] = fma(vec4(subgroupShuffle(av[kk], r + R * g)), bv, acc[r][cc]);
        }
      }
    }
  }
  [[unroll]] for (uint r = 0; r < R; ++r) {
    const uint m = m0 + r;
    if (m < p.M) {
      [[unroll]] for (uint cc = 0; cc < CB; ++cc) [[unroll]] for (uint q = 0; q < 4; ++q) {
        const uint n = n0 + 32 * cc + 4 * l + q;
        if (n < p.N) c[m * p.N + n] = acc[r][cc][q];
      }
    }
  }
#endif
}
