#version 450
// Matmul on matrix cores (GL_NV_cooperative_matrix), f16 operands, f32 accumulation and output:
//   C (M,N) = op(A) · op(B) [+ bias (N)] [+ C when accumulate != 0], layouts as matmul.comp
//   (TRANS_A: A stored (K,M); TRANS_B: B stored (N,K)). A16 / B16: that operand is stored f16, else
//   f32 and rounded to f16 as it is staged (a gradient in the backward, as autocast does).
// A workgroup of 4 subgroups owns a 64x64 tile of C; per 32-deep k step all invocations stage the A
// (64x32) and B (32x64) tiles into shared memory as f16, then each subgroup multiplies its 32x32
// quarter as (32/lM) x (32/lN) fragments of lM x lN, lK deep. The f32 result goes through shared
// memory to C, where edges are clipped and bias and accumulate applied, so any M, N, K work.
// EMULATED: the same tiling, staging and indexing, with the fragment primitives (load, multiply-add,
// store) written as ordinary per-invocation code: a fragment of A or B is its place in shared memory,
// and a C fragment's lM·lN elements are spread over EMU_LANES consecutive invocations (element e on
// invocation e % EMU_LANES). It runs on any device (lavapipe in the tests), so only the three
// primitives are left untested until a device with cooperative matrices runs this.

#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#ifndef EMULATED
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_shader_subgroup_basic : require
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

layout(local_size_x_id = 0) in;  // 4 subgroups: 4 · the subgroup size (EMULATED: 4 · EMU_LANES)
#ifdef EMULATED
// fixed, so that a C fragment is a plain array (GLSL cannot copy arrays sized by spec constants)
const uint lM = 16, lN = 16, lK = 16, EMU_LANES = 8;
#else
layout(constant_id = 1) const uint lM = 16;  // fragment shape: C fragments lM x lN, lK deep, one the
layout(constant_id = 2) const uint lN = 16;  // device reports for f16 A and B and an f32 C
layout(constant_id = 3) const uint lK = 16;
#endif

const uint TILE_M = 64, TILE_N = 64, TILE_K = 32;  // the workgroup's tile; subgroups take 32x32
const uint C_ROWS = 32 / lM, C_COLS = 32 / lN;     // fragments per subgroup
const uint STRIDE_A = TILE_K + 8, STRIDE_B = TILE_N + 8, STRIDE_C = TILE_N + 4;  // padded rows

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

shared float16_t a_sh[TILE_M * STRIDE_A];  // a_sh[m * STRIDE_A + k]
shared float16_t b_sh[TILE_K * STRIDE_B];  // b_sh[k * STRIDE_B + n]
shared float c_sh[TILE_M * STRIDE_C];      // the result tile on its way out

// --- the fragment primitives ---------------------------------------------------------------------
#ifdef EMULATED
const uint FRAG_ELEMENTS = lM * lN / EMU_LANES;  // of a C fragment, per invocation
// The per-element loops stay loops: unrolled, LLVM (lavapipe) spends minutes compiling the kernel.
#define FRAG_LOOP [[dont_unroll]]
#define FRAG_A uint  // the fragment's first element in a_sh (row-major, stride STRIDE_A)
#define FRAG_B uint  // ... in b_sh (row-major, stride STRIDE_B)
struct FragC {
  float v[FRAG_ELEMENTS];
};
FragC frag_zero() {
  FragC f;
  FRAG_LOOP for (uint s = 0; s < FRAG_ELEMENTS; ++s) f.v[s] = 0.0;
  return f;
}
#define LOAD_A(frag, offset) frag = (offset)
#define LOAD_B(frag, offset) frag = (offset)
// C += A·B for the elements this invocation holds: e = s·EMU_LANES + lane, at row e / lN, column e % lN.
FragC frag_muladd(uint fa, uint fb, FragC acc, uint lane) {
  FRAG_LOOP for (uint s = 0; s < FRAG_ELEMENTS; ++s) {
    const uint e = s * EMU_LANES + lane, row = e / lN, col = e % lN;
    float sum = 0.0;
    for (uint k = 0; k < lK; ++k) sum += float(a_sh[fa + row * STRIDE_A + k]) * float(b_sh[fb + k * STRIDE_B + col]);
    acc.v[s] += sum;
  }
  return acc;
}
#define MULADD(acc, fa, fb) acc = frag_muladd(fa, fb, acc, lane)
void frag_store(FragC f, uint offset, uint lane) {
  FRAG_LOOP for (uint s = 0; s < FRAG_ELEMENTS; ++s) {
    const uint e = s * EMU_LANES + lane;
    c_sh[offset + (e / lN) * STRIDE_C + e % lN] = f.v[s];
  }
}
#define STORE_C(frag, offset) frag_store(frag, offset, lane)
#else
#define FRAG_A fcoopmatNV<16, gl_ScopeSubgroup, lM, lK>
#define FRAG_B fcoopmatNV<16, gl_ScopeSubgroup, lK, lN>
#define FragC fcoopmatNV<32, gl_ScopeSubgroup, lM, lN>
FragC frag_zero() { return FragC(0.0); }
#define LOAD_A(frag, offset) coopMatLoadNV(frag, a_sh, offset, STRIDE_A, false)
#define LOAD_B(frag, offset) coopMatLoadNV(frag, b_sh, offset, STRIDE_B, false)
#define MULADD(acc, fa, fb) acc = coopMatMulAddNV(fa, fb, acc)
#define STORE_C(frag, offset) coopMatStoreNV(frag, c_sh, offset, STRIDE_C, false)
#endif

// --- staging: op(A)[m][k] and op(B)[k][n] from memory, zero outside the matrices ----------------
float16_t load_a(uint m, uint k) {
  if (m >= p.M || k >= p.K) return float16_t(0.0);
#ifdef TRANS_A
  return float16_t(a[k * p.lda + m]);
#else
  return float16_t(a[m * p.lda + k]);
#endif
}

float16_t load_b(uint k, uint n) {
  if (k >= p.K || n >= p.N) return float16_t(0.0);
#ifdef TRANS_B
  return float16_t(b[n * p.ldb + k]);
#else
  return float16_t(b[k * p.ldb + n]);
#endif
}

void main() {
  const uint tid = gl_LocalInvocationID.x, threads = gl_WorkGroupSize.x;
#ifdef EMULATED
  const uint subgroup = tid / EMU_LANES, lane = tid % EMU_LANES;
#else
  const uint subgroup = gl_SubgroupID;
#endif
  const uint m0 = gl_WorkGroupID.y * TILE_M, n0 = gl_WorkGroupID.x * TILE_N;
  const uint wm = (subgroup / 2) * 32, wn = (subgroup % 2) * 32;  // this subgroup's quarter

  FragC acc[C_ROWS][C_COLS];
  [[unroll]] for (uint i = 0; i < C_ROWS; ++i)
    [[unroll]] for (uint j = 0; j < C_COLS; ++j) acc[i][j] = frag_zero();

  for (uint k0 = 0; k0 < p.K; k0 += TILE_K) {
    barrier();  // the previous step's fragments are loaded before the tiles are overwritten
    // consecutive invocations walk the stored rows' contiguous direction
    for (uint e = tid; e < TILE_M * TILE_K; e += threads) {
#ifdef TRANS_A
      const uint m = e % TILE_M, k = e / TILE_M;
#else
      const uint m = e / TILE_K, k = e % TILE_K;
#endif
      a_sh[m * STRIDE_A + k] = load_a(m0 + m, k0 + k);
    }
    for (uint e = tid; e < TILE_K * TILE_N; e += threads) {
#ifdef TRANS_B
      const uint n = e / TILE_K, k = e % TILE_K;
#else
      const uint k = e / TILE_N, n = e % TILE_N;
#endif
      b_sh[k * STRIDE_B + n] = load_b(k0 + k, n0 + n);
    }
    barrier();
    [[unroll]] for (uint kk = 0; kk < TILE_K; kk += lK) {
      FRAG_A fa[C_ROWS];
      [[unroll]] for (uint i = 0; i < C_ROWS; ++i) LOAD_A(fa[i], (wm + i * lM) * STRIDE_A + kk);
      [[unroll]] for (uint j = 0; j < C_COLS; ++j) {
        FRAG_B fb;
        LOAD_B(fb, kk * STRIDE_B + wn + j * lN);
        [[unroll]] for (uint i = 0; i < C_ROWS; ++i) MULADD(acc[i][j], fa[i], fb);
      }
    }
  }

  [[unroll]] for (uint i = 0; i < C_ROWS; ++i)
    [[unroll]] for (uint j = 0; j < C_COLS; ++j) STORE_C(acc[i][j], (wm + i * lM) * STRIDE_C + wn + j * lN);
  barrier();
  for (uint e = tid; e < TILE_M * TILE_N; e += threads) {
    const uint m = m0 + e / TILE_N, n = n0 + e % TILE_N;
    if (m >= p.M || n >= p.N) continue;
    float value = c_sh[(e / TILE_N) * STRIDE_C + e % TILE_N];
#ifdef BIAS
    value += bias[n];
#endif
    if (p.accumulate != 0) value += c[m * p.ldc + n];
    c[m * p.ldc + n] = value;
  }
}
