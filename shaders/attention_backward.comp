#version 450
// Causal multi-head attention backward, flash-attention style, fp32. With scores
// S[t,s] = q_t·k_s / sqrt(HS) (s <= t), P[t,s] = exp(S[t,s] - lse_t) recomputed from q, k and the
// forward's lse, and g = dout:
//   D_t     = g_t · out_t                      (= sum_s P[t,s] (g_t · v_s))
//   dS[t,s] = P[t,s] (g_t · v_s - D_t)
//   dq_t = sum_{s<=t} dS[t,s] k_s / sqrt(HS)   dk_s = sum_{t>=s} dS[t,s] q_t / sqrt(HS)
//   dv_s = sum_{t>=s} P[t,s] g_t
// qkv and dqkv (B,T,W) hold [q (NH heads) | k (NKV heads) | v (NKV heads)], W = (NH + 2·NKV)·HS;
// query head h reads key/value head h / G, G = NH/NKV (grouped-query attention; G = 1 is plain
// multi-head), so dk and dv of a key/value head sum over its G query heads.
// Three passes, one variant each, all writing dqkv without atomics:
//   PASS_DELTA: D_t into the first dq column of each head (dq is scratch until PASS_DQ).
//   PASS_DKV:   one invocation per key row s of a key/value head holds k, v, dk, dv in registers
//               and walks, for each of its G query heads in turn, queries t = s..T-1 in blocks of
//               BC; writes dk, dv. Workgroups over (sequence, key/value head).
//   PASS_DQ:    one invocation per query row t holds q, g, dq in registers and walks keys 0..t in
//               blocks of BC; reads its own D_t, then overwrites the dq slot.
// As in the forward, every lane walks the same rows, which reach the lanes as LANES-float chunks
// through subgroup broadcasts (HS % 8 == 0, whole subgroups), and each output adds its terms in
// ascending order: the result is the same bits every run.

#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require

layout(push_constant) uniform Push {
  uint T;
  uint C;
  uint NH;
  uint NKV;  // key/value heads, dividing NH
} p;

layout(local_size_x_id = 0) in;              // rows per workgroup
layout(constant_id = 1) const uint HS = 64;  // head size (C / NH): a multiple of 8, at most 128
layout(constant_id = 2) const uint BC = 16;  // walked rows per block
layout(constant_id = 3) const uint LANES = 8;  // floats per broadcast chunk: min(8, subgroup size)

#ifdef TEXEL
// CPU devices, HS % 32 == 0: dout and qkv are rgba32f texel buffers, lse an r32f one, and a chunk is
// 32 floats: lane l loads floats 4l..4l+3 in one inline imageLoad and subgroupShuffle with a
// constant lane hands them out (on lavapipe subgroupBroadcast and storage-buffer loads loop).
#extension GL_KHR_shader_subgroup_shuffle : require
layout(rgba32f, binding = 0) uniform readonly imageBuffer dout4;  // (B, T, C)
layout(rgba32f, binding = 1) uniform readonly imageBuffer qkv4;   // (B, T, 3C)
layout(binding = 2) readonly buffer Out { float out_[]; };        // (B, T, C)
layout(r32f, binding = 3) uniform readonly imageBuffer lse1;      // (B, NH, T)
const uint CHUNK = 32;
#define CHUNK_T vec4
vec4 qkv_chunk(uint at) { return imageLoad(qkv4, int(at / 4 + gl_SubgroupInvocationID)); }
vec4 dout_chunk(uint at) { return imageLoad(dout4, int(at / 4 + gl_SubgroupInvocationID)); }
float bcast(vec4 x, uint i) { return subgroupShuffle(x[i & 3], i >> 2); }
float qkv_at(uint at) { return imageLoad(qkv4, int(at / 4))[at & 3]; }
float dout_at(uint at) { return imageLoad(dout4, int(at / 4))[at & 3]; }
float lse_at(uint at) { return imageLoad(lse1, int(at)).x; }
#else
layout(binding = 0) readonly buffer Dout { float dout[]; };  // (B, T, C)
layout(binding = 1) readonly buffer Qkv { float qkv[]; };    // (B, T, 3C)
layout(binding = 2) readonly buffer Out { float out_[]; };   // (B, T, C)
layout(binding = 3) readonly buffer Lse { float lse[]; };    // (B, NH, T)
const uint CHUNK = LANES;
#define CHUNK_T float
float qkv_chunk(uint at) { return qkv[at + gl_SubgroupInvocationID % LANES]; }
float dout_chunk(uint at) { return dout[at + gl_SubgroupInvocationID % LANES]; }
float bcast(float x, uint i) { return subgroupBroadcast(x, i); }
float qkv_at(uint at) { return qkv[at]; }
float dout_at(uint at) { return dout[at]; }
float lse_at(uint at) { return lse[at]; }
#endif
layout(binding = 4) buffer Dqkv { float dqkv[]; };  // (B, T, 3C)

const float LOG2E = 1.4426950408889634;

// Element at + (lane mod LANES) of qkv / dout: one chunk of a row every lane needs.
void main() {
#if defined(PASS_DKV)
  const uint heads = p.NKV;  // workgroups over key/value heads
#else
  const uint heads = p.NH;
#endif
  const uint b = gl_WorkGroupID.y / heads;
  const uint r0 = gl_WorkGroupID.x * gl_WorkGroupSize.x;  // the group's first owned row
  const uint r_raw = r0 + gl_LocalInvocationID.x;
  const uint r = min(r_raw, p.T - 1);  // rows past T redo row T-1 and store nothing
  const bool owns = r_raw < p.T;
  const uint G = p.NH / p.NKV;
  const uint row = p.C + 2 * p.NKV * HS;  // floats per token in qkv / dqkv
#if defined(PASS_DKV)
  const uint kv = gl_WorkGroupID.y % heads;
  const uint kv_head = b * p.T * row + p.C + kv * HS;  // k of (b, 0, kv); v at +NKV·HS
#else
  const uint h = gl_WorkGroupID.y % heads, kv = h / G;
  const uint head = b * p.T * row + h * HS;  // q of (b, 0, h)
  const uint kv_head = b * p.T * row + p.C + kv * HS;  // k of (b, 0, kv); v at +NKV·HS
  const uint g_head = b * p.T * p.C + h * HS;  // dout / out of (b, 0, h)
  const uint lse_head = (b * p.NH + h) * p.T;
#endif
  const uint v_off = p.NKV * HS;
  // Scores in log2 units: one side is pre-scaled by log2(e)/sqrt(HS), lse by log2(e).
  const float s_scale = LOG2E * inversesqrt(float(HS));
  const float inv_sqrt_hs = inversesqrt(float(HS));

#if defined(PASS_DELTA)
  float delta = 0.0;
  const uint at = g_head + r * p.C;
  [[unroll]] for (uint d = 0; d < HS; ++d) delta = fma(dout_at(at + d), out_[at + d], delta);
  if (owns) dqkv[head + r * row] = delta;

#elif defined(PASS_DKV)
  const uint s = r;
  float k[HS], v[HS], dk[HS], dv[HS];
  [[unroll]] for (uint d = 0; d < HS; ++d) {
    k[d] = qkv_at(kv_head + s * row + d) * s_scale;
    v[d] = qkv_at(kv_head + s * row + v_off + d);
    dk[d] = 0.0;
    dv[d] = 0.0;
  }
  for (uint h = kv * G; h < kv * G + G; ++h) {  // the query heads reading this key/value head
    const uint head = b * p.T * row + h * HS;  // q of (b, 0, h)
    const uint g_head = b * p.T * p.C + h * HS;  // dout / out of (b, 0, h)
    const uint lse_head = (b * p.NH + h) * p.T;
    for (uint t0 = r0; t0 < p.T; t0 += BC) {
      float prob[BC], dscore[BC];
      [[unroll]] for (uint j = 0; j < BC; ++j) {
        const uint t = min(t0 + j, p.T - 1);
        float qk = 0.0, gv = 0.0;
        [[unroll]] for (uint d0 = 0; d0 < HS; d0 += CHUNK) {
          const CHUNK_T q = qkv_chunk(head + t * row + d0), g = dout_chunk(g_head + t * p.C + d0);
          [[unroll]] for (uint i = 0; i < CHUNK; ++i) {
            qk = fma(k[d0 + i], bcast(q, i), qk);
            gv = fma(v[d0 + i], bcast(g, i), gv);
          }
        }
        const bool visible = t0 + j >= s && t0 + j < p.T;
        prob[j] = visible ? exp2(qk - lse_at(lse_head + t) * LOG2E) : 0.0;
        dscore[j] = prob[j] * (gv - dqkv[head + t * row]);  // D_t from PASS_DELTA
      }
      [[unroll]] for (uint j = 0; j < BC; ++j) {
        const uint t = min(t0 + j, p.T - 1);
        [[unroll]] for (uint d0 = 0; d0 < HS; d0 += CHUNK) {
          const CHUNK_T q = qkv_chunk(head + t * row + d0), g = dout_chunk(g_head + t * p.C + d0);
          [[unroll]] for (uint i = 0; i < CHUNK; ++i) {
            dv[d0 + i] = fma(prob[j], bcast(g, i), dv[d0 + i]);
            dk[d0 + i] = fma(dscore[j], bcast(q, i), dk[d0 + i]);
          }
        }
      }
    }
  }  // query heads
  if (!owns) return;
  [[unroll]] for (uint d = 0; d < HS; ++d) {
    dqkv[kv_head + s * row + d] = dk[d] * inv_sqrt_hs;
    dqkv[kv_head + s * row + v_off + d] = dv[d];
  }

#elif defined(PASS_DQ)
  const uint t = r;
  const uint last = min(r0 + gl_WorkGroupSize.x, p.T) - 1;  // the group's last row (uniform)
  float q[HS], g[HS], dq[HS];
  [[unroll]] for (uint d = 0; d < HS; ++d) {
    q[d] = qkv_at(head + t * row + d) * s_scale;
    g[d] = dout_at(g_head + t * p.C + d);
    dq[d] = 0.0;
  }
  const float lse2 = lse_at(lse_head + t) * LOG2E;
  // Padding rows must not read row T-1's D slot: its owner overwrites it with dq.
  const float delta = owns ? dqkv[head + t * row] : 0.0;
  for (uint s0 = 0; s0 <= last; s0 += BC) {
    float dscore[BC];
    [[unroll]] for (uint j = 0; j < BC; ++j) {
      const uint s = min(s0 + j, p.T - 1);
      float qk = 0.0, gv = 0.0;
      [[unroll]] for (uint d0 = 0; d0 < HS; d0 += CHUNK) {
        const CHUNK_T k = qkv_chunk(kv_head + s * row + d0);
        const CHUNK_T v = qkv_chunk(kv_head + s * row + v_off + d0);
        [[unroll]] for (uint i = 0; i < CHUNK; ++i) {
          qk = fma(q[d0 + i], bcast(k, i), qk);
          gv = fma(g[d0 + i], bcast(v, i), gv);
        }
      }
      const float prob = s0 + j <= t ? exp2(qk - lse2) : 0.0;
      dscore[j] = prob * (gv - delta);
    }
    [[unroll]] for (uint j = 0; j < BC; ++j) {
      const uint s = min(s0 + j, p.T - 1);
      [[unroll]] for (uint d0 = 0; d0 < HS; d0 += CHUNK) {
        const CHUNK_T k = qkv_chunk(kv_head + s * row + d0);
        [[unroll]] for (uint i = 0; i < CHUNK; ++i) dq[d0 + i] = fma(dscore[j], bcast(k, i), dq[d0 + i]);
      }
    }
  }
  if (!owns) return;
  [[unroll]] for (uint d = 0; d < HS; ++d) dqkv[head + t * row + d] = dq[d] * inv_sqrt_hs;

#else
#error "attention_backward.comp needs PASS_DELTA, PASS_DKV or PASS_DQ"
#endif
}
