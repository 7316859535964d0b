#version 450
// Tiled matmul with register blocking, row-major, fp32:
//   C (M,N) = op(A) · op(B) [+ bias (N)] [+ C when accumulate != 0]
//   default  A (M,K), B (K,N)       TRANS_B: B stored (N,K), C = A·Bᵀ (linear layer forward)
//   TRANS_A: A stored (K,M), C = Aᵀ·B (weight gradient)       BIAS: adds bias[n] to every row
// Rows are lda/ldb/ldc elements apart (>= their length), so a matrix can be a block of a wider one.
// A workgroup owns a BM×BN tile of C and walks K in steps of BK through shared memory; each
// invocation holds TM×TN accumulators, strided by BM/TM rows and BN/TN columns so neighbouring
// invocations touch neighbouring addresses. Any M, N, K work: loads outside the matrices read 0.

#extension GL_EXT_control_flow_attributes : require
// A16 / B16: that operand is stored as f16 (16-bit storage); products and sums stay f32.
#if defined(A16) || defined(B16)
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif

layout(push_constant) uniform Push {
  uint M;
  uint N;
  uint K;
  uint accumulate;
  uint lda;  // row strides in elements: A's stored rows, B's stored rows, C's rows
  uint ldb;
  uint ldc;
} p;

// local_size_x must equal (BM/TM)·(BN/TN); the launcher derives it from the tile table.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

#ifdef A16
layout(binding = 0) readonly buffer A { float16_t a[]; };
#else
layout(binding = 0) readonly buffer A { float a[]; };
#endif
#ifdef B16
layout(binding = 1) readonly buffer B { float16_t b[]; };
#else
layout(binding = 1) readonly buffer B { float b[]; };
#endif
#ifdef BIAS
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) buffer C { float c[]; };
#else
layout(binding = 2) buffer C { float c[]; };
#endif

shared float a_tile[BK * BM];  // a_tile[k * BM + m]
shared float b_tile[BK * BN];  // b_tile[k * BN + n]

float load_a(uint m, uint k) {
  if (m >= p.M || k >= p.K) return 0.0;
#ifdef TRANS_A
  return float(a[k * p.lda + m]);
#else
  return float(a[m * p.lda + k]);
#endif
}

float load_b(uint k, uint n) {
  if (k >= p.K || n >= p.N) return 0.0;
#ifdef TRANS_B
  return float(b[n * p.ldb + k]);
#else
  return float(b[k * p.ldb + n]);
#endif
}

void main() {
  const uint threads = gl_WorkGroupSize.x;
  const uint tid = gl_LocalInvocationID.x;
  const uint threads_n = BN / TN;
  const uint threads_m = BM / TM;
  const uint tid_n = tid % threads_n;
  const uint tid_m = tid / threads_n;
  const uint m0 = gl_WorkGroupID.y * BM;
  const uint n0 = gl_WorkGroupID.x * BN;

  float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; ++i) acc[i] = 0.0;
  float a_reg[TM];
  float b_reg[TN];

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    // Fill the tiles; the index order follows each matrix's memory order so reads are contiguous.
    for (uint i = tid; i < BM * BK; i += threads) {
#ifdef TRANS_A
      const uint m = i % BM, k = i / BM;
#else
      const uint k = i % BK, m = i / BK;
#endif
      a_tile[k * BM + m] = load_a(m0 + m, k0 + k);
    }
    for (uint i = tid; i < BK * BN; i += threads) {
#ifdef TRANS_B
      const uint k = i % BK, n = i / BK;
#else
      const uint n = i % BN, k = i / BN;
#endif
      b_tile[k * BN + n] = load_b(k0 + k, n0 + n);
    }
    barrier();

    [[unroll]] for (uint k = 0; k < BK; ++k) {
      [[unroll]] for (uint i = 0; i < TM; ++i) a_reg[i] = a_tile[k * BM + tid_m + i * threads_m];
      [[unroll]] for (uint j = 0; j < TN; ++j) b_reg[j] = b_tile[k * BN + tid_n + j * threads_n];
      [[unroll]] for (uint i = 0; i < TM; ++i) {
        [[unroll]] for (uint j = 0; j < TN; ++j) acc[i * TN + j] = fma(a_reg[i], b_reg[j], acc[i * TN + j]);
      }
    }
    barrier();
  }

  [[unroll]] for (uint i = 0; i < TM; ++i) {
    const uint m = m0 + tid_m + i * threads_m;
    if (m >= p.M) continue;
    [[unroll]] for (uint j = 0; j < TN; ++j) {
      const uint n = n0 + tid_n + j * threads_n;
      if (n >= p.N) continue;
      float value = acc[i * TN + j];
#ifdef BIAS
      value += bias[n];
#endif
      if (p.accumulate != 0) value += c[m * p.ldc + n];
      c[m * p.ldc + n] = value;
    }
  }
}
