#version 450
// Matmul for CPU Vulkan devices (lavapipe), fp32, row-major; same maths and layouts as matmul.comp:
//   C (M,N) = op(A) · op(B) [+ bias (N)] [+ C when accumulate != 0]
//   default  A (M,K), B (K,N)       TRANS_B: B stored (N,K)       TRANS_A: A stored (K,M)
// lavapipe (Mesa 22.3) runs a workgroup on one CPU thread with invocations as SIMD lanes, and
// every storage-buffer load becomes a loop over the lanes (scalar load + lane insert, ~7 cycles a
// lane per component), uniform address or not; cross-lane ops (subgroupBroadcast) loop too.
// FMAs are nearly free next to that, so the kernel maximises FMAs per loaded component: each
// invocation owns TM rows × TN columns of C (TM·TN accumulators; lavapipe spills what does not
// fit in registers to the stack, which is far cheaper than a buffer load), the invocations of a
// workgroup own consecutive row blocks and share the same TN columns, K advances 4 at a time and
// every load is a vec4 along the contiguous dimension (VEC4 = 1, when the launcher has checked
// the sizes are multiples of 4; else 4 scalar loads). No shared memory, no barriers, no
// cross-lane ops. Rows, columns and k past the edge are clamped to valid addresses (k's values
// are zeroed), so the loop has no branches; the store skips what lies outside C.

#extension GL_EXT_control_flow_attributes : require

layout(push_constant) uniform Push {
  uint M;
  uint N;
  uint K;
  uint accumulate;
  uint lda;  // row strides in elements: A's stored rows, B's stored rows, C's rows
  uint ldb;
  uint ldc;
} p;

// Same ids as matmul.comp, plus VEC4. BM = (invocations)·TM and BN = TN; BK is unused (4).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 16;
layout(constant_id = 3) const uint BK = 4;
layout(constant_id = 4) const uint TM = 8;
layout(constant_id = 5) const uint TN = 16;
// 1: vec4 loads. Needs NN: K, N % 4 == 0; NT: K % 4 == 0; TN: M, N % 4 == 0, and lda, ldb % 4 == 0
// (launcher checks).
layout(constant_id = 6) const uint VEC4 = 0;

// The vec4 views alias the float views of the same buffers.
layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 1) readonly buffer B4 { vec4 b4[]; };
#ifdef BIAS
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) buffer C { float c[]; };
#else
layout(binding = 2) buffer C { float c[]; };
#endif

// Four consecutive values of a line of A (or B): line[pos .. pos+3], pos clamped below limit.
vec4 load_a4(uint line, uint pos, uint limit) {
  if (VEC4 != 0) return a4[(line + min(pos, limit - 4)) / 4];
  return vec4(a[line + min(pos, limit - 1)], a[line + min(pos + 1, limit - 1)],
              a[line + min(pos + 2, limit - 1)], a[line + min(pos + 3, limit - 1)]);
}

vec4 load_b4(uint line, uint pos, uint limit) {
  if (VEC4 != 0) return b4[(line + min(pos, limit - 4)) / 4];
  return vec4(b[line + min(pos, limit - 1)], b[line + min(pos + 1, limit - 1)],
              b[line + min(pos + 2, limit - 1)], b[line + min(pos + 3, limit - 1)]);
}

void main() {
  const uint m_base = gl_WorkGroupID.y * BM + gl_LocalInvocationID.x * TM;  // this invocation's rows
  const uint n_base = gl_WorkGroupID.x * BN;                                // shared columns

  float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += 4) {
    // ak[i * 4 + kk] = op(A)[m_base + i, k0 + kk], bk[kk * TN + j] = op(B)[k0 + kk, n_base + j]
    float ak[TM * 4];
    float bk[4 * TN];
    const bvec4 k_ok = lessThan(uvec4(k0) + uvec4(0, 1, 2, 3), uvec4(p.K));
#ifdef TRANS_A
    [[unroll]] for (uint kk = 0; kk < 4; ++kk) {
      const uint line = min(k0 + kk, p.K - 1) * p.lda;
      [[unroll]] for (uint i = 0; i < TM; i += 4) {
        const vec4 v = k_ok[kk] ? load_a4(line, m_base + i, p.M) : vec4(0.0);
        [[unroll]] for (uint q = 0; q < 4; ++q) if (i + q < TM) ak[(i + q) * 4 + kk] = v[q];
      }
    }
#else
    [[unroll]] for (uint i = 0; i < TM; ++i) {
      const vec4 v = mix(vec4(0.0), load_a4(min(m_base + i, p.M - 1) * p.lda, k0, p.K), k_ok);
      [[unroll]] for (uint kk = 0; kk < 4; ++kk) ak[i * 4 + kk] = v[kk];
    }
#endif
#ifdef TRANS_B
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      const vec4 v = mix(vec4(0.0), load_b4(min(n_base + j, p.N - 1) * p.ldb, k0, p.K), k_ok);
      [[unroll]] for (uint kk = 0; kk < 4; ++kk) bk[kk * TN + j] = v[kk];
    }
#else
    [[unroll]] for (uint kk = 0; kk < 4; ++kk) {
      const uint line = min(k0 + kk, p.K - 1) * p.ldb;
      [[unroll]] for (uint j = 0; j < TN; j += 4) {
        const vec4 v = k_ok[kk] ? load_b4(line, n_base + j, p.N) : vec4(0.0);
        [[unroll]] for (uint q = 0; q < 4; ++q) if (j + q < TN) bk[kk * TN + j + q] = v[q];
      }
    }
#endif
    [[unroll]] for (uint kk = 0; kk < 4; ++kk) {
      [[unroll]] for (uint i = 0; i < TM; ++i) {
        [[unroll]] for (uint j = 0; j < TN; ++j)
          acc[i * TN + j] = fma(ak[i * 4 + kk], bk[kk * TN + j], acc[i * TN + j]);
      }
    }
  }

  [[unroll]] for (uint i = 0; i < TM; ++i) {
    const uint m = m_base + i;
    if (m >= p.M) break;
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      const uint n = n_base + j;
      if (n >= p.N) break;
      float value = acc[i * TN + j];
#ifdef BIAS
      value += bias[n];
#endif
      if (p.accumulate != 0) value += c[m * p.ldc + n];
      c[m * p.ldc + n] = value;
    }
  }
}
