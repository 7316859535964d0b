#version 450
// Causal multi-head attention forward on matrix cores (GL_NV_cooperative_matrix): the same maths,
// layouts and outputs as attention_forward.comp (qkv (B,T,W) f32, out (B,TQ,C), lse (B,NH,TQ),
// query rows FIRST..T-1, grouped-query heads), with q·kᵀ and p·v as f16 fragment products
// accumulated in f32 (mixed precision: q, k, v and the probabilities are rounded to f16 in shared
// memory, as autocast would).
// A workgroup of NSG subgroups owns BR = 16·NSG query rows of one (sequence, head); subgroup g owns
// rows 16g..16g+15 and walks the keys in blocks of 16 staged in shared memory. Two passes over the
// keys instead of an online softmax, because a fragment's rows cannot be rescaled one by one
// portably: pass 1 finds each row's max m and sum l of exp2(score - m); pass 2 recomputes the
// scores, writes the final probabilities exp2(score - m) / l and accumulates O += P·V in fragments
// that never need rescaling. That costs the q·kᵀ product twice (1.5x the FLOPs of one pass).
// Scores are in log2 units (q pre-scaled by log2(e)/sqrt(HS)). Needs HS % 16 == 0 (the launcher
// checks). Every phase is separated by workgroup barriers in uniform control flow; a subgroup whose
// rows all precede a key block skips its products there.
// EMULATED: the fragment primitives (load, multiply-add, store) as ordinary per-invocation code
// over EMU_LANES invocations per "subgroup", as in matmul_coopmat.comp, so the tiling, staging,
// masking and softmax are tested on any device.

#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#ifndef EMULATED
#extension GL_KHR_memory_scope_semantics : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_shader_subgroup_basic : require
#endif

layout(push_constant) uniform Push {
  uint T;
  uint C;
  uint NH;
  uint FIRST;  // first query row computed
  uint NKV;    // key/value heads, dividing NH
} p;

layout(local_size_x_id = 0) in;              // NSG · the subgroup size (EMULATED: NSG · EMU_LANES)
layout(constant_id = 1) const uint HS = 64;  // head size: a multiple of 16
layout(constant_id = 2) const uint NSG = 4;  // subgroups per workgroup
#ifdef EMULATED
const uint lM = 16, lN = 16, lK = 16, EMU_LANES = 8;
#else
layout(constant_id = 3) const uint lM = 16;  // fragment shape the device reports for f16 x f16 -> f32,
layout(constant_id = 4) const uint lN = 16;  // each side dividing 16
layout(constant_id = 5) const uint lK = 16;
#endif

const uint BR = 16 * NSG;  // query rows per workgroup
const uint BC = 16;        // keys per block
const uint Q_STRIDE = HS + 8, KV_STRIDE = HS + 8, S_STRIDE = BC + 4, P_STRIDE = BC + 8;  // padded
const uint S_ROWS = 16 / lM, S_COLS = BC / lN;  // a subgroup's score fragments
const uint O_COLS = HS / lN;                    // its output fragments per fragment row

layout(binding = 0) readonly buffer Qkv { float qkv[]; };    // (B, T, W)
layout(binding = 1) writeonly buffer Out { float out_[]; };  // (B, TQ, C)
layout(binding = 2) writeonly buffer Lse { float lse[]; };   // (B, NH, TQ)

shared float16_t q_sh[BR * Q_STRIDE];   // q_sh[r * Q_STRIDE + d]: the group's rows, pre-scaled
shared float16_t k_sh[BC * KV_STRIDE];  // k_sh[j * KV_STRIDE + d]: the key block
shared float16_t v_sh[BC * KV_STRIDE];  // v_sh[j * KV_STRIDE + d]: the value block
shared float s_sh[BR * S_STRIDE];       // scores of the block; the output on its way out
shared float16_t p_sh[BR * P_STRIDE];   // probabilities of the block
shared float row_max[BR], row_sum[BR];  // m and l per row (log2 units)

const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;
const float MASKED = -1.0e30;

// --- the fragment primitives ---------------------------------------------------------------------
#ifdef EMULATED
const uint FRAG_ELEMENTS = lM * lN / EMU_LANES;  // of a C fragment, per invocation
#define FRAG_LOOP [[dont_unroll]]
// A fragment is where it lies in shared memory: an A operand in q_sh or p_sh (row-major), a B
// operand in k_sh read transposed (kᵀ: element (d, key) at key * KV_STRIDE + d) or in v_sh.
const uint FROM_Q = 0, FROM_P = 1, FROM_KT = 2, FROM_V = 3;
#define FRAG_A uvec2
#define FRAG_B uvec2
struct FragC {
  float v[FRAG_ELEMENTS];
};
FragC frag_zero() {
  FragC f;
  FRAG_LOOP for (uint s = 0; s < FRAG_ELEMENTS; ++s) f.v[s] = 0.0;
  return f;
}
float a_element(uvec2 f, uint row, uint k) {
  return f.x == FROM_Q ? float(q_sh[f.y + row * Q_STRIDE + k]) : float(p_sh[f.y + row * P_STRIDE + k]);
}
float b_element(uvec2 f, uint k, uint col) {
  return f.x == FROM_KT ? float(k_sh[f.y + col * KV_STRIDE + k]) : float(v_sh[f.y + k * KV_STRIDE + col]);
}
FragC frag_muladd(uvec2 fa, uvec2 fb, FragC acc, uint lane) {
  FRAG_LOOP for (uint s = 0; s < FRAG_ELEMENTS; ++s) {
    const uint e = s * EMU_LANES + lane, row = e / lN, col = e % lN;
    float sum = 0.0;
    for (uint k = 0; k < lK; ++k) sum += a_element(fa, row, k) * b_element(fb, k, col);
    acc.v[s] += sum;
  }
  return acc;
}
void frag_store(FragC f, uint offset, uint lane) {
  FRAG_LOOP for (uint s = 0; s < FRAG_ELEMENTS; ++s) {
    const uint e = s * EMU_LANES + lane;
    s_sh[offset + (e / lN) * S_STRIDE + e % lN] = f.v[s];
  }
}
#define LOAD_Q(frag, offset) frag = uvec2(FROM_Q, offset)
#define LOAD_P(frag, offset) frag = uvec2(FROM_P, offset)
#define LOAD_KT(frag, offset) frag = uvec2(FROM_KT, offset)
#define LOAD_V(frag, offset) frag = uvec2(FROM_V, offset)
#define MULADD(acc, fa, fb) acc = frag_muladd(fa, fb, acc, lane)
#define STORE_S(frag, offset) frag_store(frag, offset, lane)
#else
#define FRAG_A fcoopmatNV<16, gl_ScopeSubgroup, lM, lK>
#define FRAG_B fcoopmatNV<16, gl_ScopeSubgroup, lK, lN>
#define FragC fcoopmatNV<32, gl_ScopeSubgroup, lM, lN>
FragC frag_zero() { return FragC(0.0); }
#define LOAD_Q(frag, offset) coopMatLoadNV(frag, q_sh, offset, Q_STRIDE, false)
#define LOAD_P(frag, offset) coopMatLoadNV(frag, p_sh, offset, P_STRIDE, false)
#define LOAD_KT(frag, offset) coopMatLoadNV(frag, k_sh, offset, KV_STRIDE, true)
#define LOAD_V(frag, offset) coopMatLoadNV(frag, v_sh, offset, KV_STRIDE, false)
#define MULADD(acc, fa, fb) acc = coopMatMulAddNV(fa, fb, acc)
#define STORE_S(frag, offset) coopMatStoreNV(frag, s_sh, offset, S_STRIDE, false)
#endif

void main() {
  const uint tid = gl_LocalInvocationID.x, threads = gl_WorkGroupSize.x;
#ifdef EMULATED
  const uint group = tid / EMU_LANES, lane = tid % EMU_LANES;
#else
  const uint group = gl_SubgroupID;
#endif
  const uint b = gl_WorkGroupID.y / p.NH, h = gl_WorkGroupID.y % p.NH;
  const uint q0 = p.FIRST + gl_WorkGroupID.x * BR;
  const uint last = min(q0 + BR, p.T) - 1;                 // the workgroup's last row
  const uint group_last = min(q0 + 16 * group + 15, p.T - 1);  // this subgroup's last row
  const uint row = p.C + 2 * p.NKV * HS;                   // floats per token in qkv
  const uint head = b * p.T * row + h * HS;                // q of (b, 0, h)
  const uint kv = h / (p.NH / p.NKV);
  const uint k_off = p.C + kv * HS - h * HS, v_off = k_off + p.NKV * HS;
  const float q_scale = LOG2E * inversesqrt(float(HS));

  for (uint e = tid; e < BR * HS; e += threads) {
    const uint r = e / HS, d = e % HS, t = min(q0 + r, p.T - 1);
    q_sh[r * Q_STRIDE + d] = float16_t(qkv[head + t * row + d] * q_scale);
  }
  for (uint r = tid; r < BR; r += threads) {
    row_max[r] = MASKED;
    row_sum[r] = 0.0;
  }

  FragC o[S_ROWS][O_COLS];
  [[unroll]] for (uint i = 0; i < S_ROWS; ++i)
    [[unroll]] for (uint j = 0; j < O_COLS; ++j) o[i][j] = frag_zero();

  for (uint pass = 0; pass < 2; ++pass) {
    for (uint s0 = 0; s0 <= last; s0 += BC) {
      barrier();  // the previous block's fragments are loaded before its keys are overwritten
      for (uint e = tid; e < BC * HS; e += threads) {
        const uint j = e / HS, d = e % HS, s = s0 + j;
        const uint at = head + min(s, p.T - 1) * row + d;
        k_sh[j * KV_STRIDE + d] = s < p.T ? float16_t(qkv[at + k_off]) : float16_t(0.0);
        if (pass == 1) v_sh[j * KV_STRIDE + d] = s < p.T ? float16_t(qkv[at + v_off]) : float16_t(0.0);
      }
      barrier();
      const bool in_block = s0 <= group_last;  // uniform in the subgroup
      if (in_block) {  // scores = q · kᵀ for the subgroup's 16 rows and the block's 16 keys
        [[unroll]] for (uint i = 0; i < S_ROWS; ++i)
          [[unroll]] for (uint j = 0; j < S_COLS; ++j) {
            FragC s = frag_zero();
            [[unroll]] for (uint d0 = 0; d0 < HS; d0 += lK) {
              FRAG_A fq;
              FRAG_B fk;
              LOAD_Q(fq, (16 * group + i * lM) * Q_STRIDE + d0);
              LOAD_KT(fk, (j * lN) * KV_STRIDE + d0);
              MULADD(s, fq, fk);
            }
            STORE_S(s, (16 * group + i * lM) * S_STRIDE + j * lN);
          }
      }
      barrier();
      for (uint r = tid; r < BR; r += threads) {
        const uint t = min(q0 + r, p.T - 1);
        if (t < s0) {  // every key of the block is masked for this row
          if (pass == 1) [[unroll]] for (uint j = 0; j < BC; ++j) p_sh[r * P_STRIDE + j] = float16_t(0.0);
          continue;
        }
        if (pass == 0) {
          float m = row_max[r];
          [[unroll]] for (uint j = 0; j < BC; ++j)
            if (s0 + j <= t) m = max(m, s_sh[r * S_STRIDE + j]);
          float l = row_sum[r] * exp2(row_max[r] - m);
          [[unroll]] for (uint j = 0; j < BC; ++j)
            if (s0 + j <= t) l += exp2(s_sh[r * S_STRIDE + j] - m);
          row_max[r] = m;
          row_sum[r] = l;
        } else {
          const float m = row_max[r], inv_l = 1.0 / row_sum[r];
          [[unroll]] for (uint j = 0; j < BC; ++j) {
            const float weight = s0 + j <= t ? exp2(s_sh[r * S_STRIDE + j] - m) * inv_l : 0.0;
            p_sh[r * P_STRIDE + j] = float16_t(weight);
          }
        }
      }
      if (pass == 1) {
        barrier();
        if (in_block) {  // o += p · v
          [[unroll]] for (uint i = 0; i < S_ROWS; ++i)
            [[unroll]] for (uint kk = 0; kk < BC; kk += lK) {
              FRAG_A fp;
              LOAD_P(fp, (16 * group + i * lM) * P_STRIDE + kk);
              [[unroll]] for (uint j = 0; j < O_COLS; ++j) {
                FRAG_B fv;
                LOAD_V(fv, kk * KV_STRIDE + j * lN);
                MULADD(o[i][j], fp, fv);
              }
            }
        }
      }
    }
  }

  // out, 16 columns at a time through s_sh
  const uint TQ = p.T - p.FIRST;
  [[unroll]] for (uint c0 = 0; c0 < HS; c0 += BC) {
    barrier();
    [[unroll]] for (uint i = 0; i < S_ROWS; ++i)
      [[unroll]] for (uint j = 0; j < BC / lN; ++j)
        STORE_S(o[i][c0 / lN + j], (16 * group + i * lM) * S_STRIDE + j * lN);
    barrier();
    for (uint e = tid; e < BR * BC; e += threads) {
      const uint r = e / BC, c = e % BC, t = q0 + r;
      if (t < p.T) out_[(b * TQ + t - p.FIRST) * p.C + h * HS + c0 + c] = s_sh[r * S_STRIDE + c];
    }
  }
  for (uint r = tid; r < BR; r += threads)
    if (q0 + r < p.T) lse[(b * p.NH + h) * TQ + q0 + r - p.FIRST] = (row_max[r] + log2(row_sum[r])) * LN2;
}
