#version 450
// Causal multi-head attention forward, flash-attention style, fp32:
//   out[b,t,h,:] = sum_{s<=t} softmax_s(q[b,t,h]·k[b,s,h] / sqrt(HS)) · v[b,s,h,:]
//   lse[b,h,t]   = log sum_{s<=t} exp(q[b,t,h]·k[b,s,h] / sqrt(HS))   (saved for the backward pass)
// qkv (B,T,W) holds [q (NH heads) | k (NKV heads) | v (NKV heads)] per token, W = (NH + 2·NKV)·HS;
// query head h reads key/value head h / (NH/NKV) (grouped-query attention; NKV = NH is plain
// multi-head, where k is at C and v at 2C). Only query rows
// t >= FIRST are computed (all keys s <= t are used): out and lse hold rows FIRST..T-1 only, TQ = T -
// FIRST of them. Training passes FIRST = 0; decoding with a KV cache passes the cached length.
// One invocation owns one query row: its q and its output accumulator live in registers. A workgroup
// of BR rows (one head of one sequence) walks keys 0..its last row in blocks of BC with an online
// softmax: a running max m and sum l, the accumulator rescaled once per block. Scores never leave
// registers, so no T×T matrix exists anywhere. All lanes walk the same keys, so K and V rows reach
// them through subgroup broadcasts rather than shared memory: lane l of each subgroup loads element
// d0+l of a LANES-float chunk and subgroupBroadcast hands it to every lane. lavapipe turns each load
// inside a loop into one scalar load per lane, so one load per LANES values keeps that cheap; on GPUs
// a broadcast is a register shuffle. Needs HS % 8 == 0 and whole subgroups in uniform control flow
// (the launcher checks both); no barriers. Each row adds its keys in ascending order, so the result
// is the same bits every run. Scores are kept in log2 units (q is pre-scaled by log2(e)/sqrt(HS)) so
// the exponentials are exp2.
// TEXEL (CPU devices, HS % 32 == 0): qkv is an rgba32f texel buffer instead; a chunk is 32 floats,
// lane l loading floats 4l..4l+3 in one inline imageLoad, and subgroupShuffle with a constant lane
// (one vector permute on lavapipe, where subgroupBroadcast and storage-buffer loads loop) hands
// them out.

#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_ballot : require

layout(push_constant) uniform Push {
  uint T;
  uint C;
  uint NH;
  uint FIRST;  // first query row computed
  uint NKV;    // key/value heads, dividing NH
} p;

layout(local_size_x_id = 0) in;              // BR: query rows per workgroup
layout(constant_id = 1) const uint HS = 64;  // head size (C / NH): a multiple of 8, at most 128
layout(constant_id = 2) const uint BC = 16;  // keys per online-softmax block
layout(constant_id = 3) const uint LANES = 8;  // floats per broadcast chunk: min(8, subgroup size)

#ifdef TEXEL
#extension GL_KHR_shader_subgroup_shuffle : require
layout(rgba32f, binding = 0) uniform readonly imageBuffer qkv4;  // (B, T, W)
#else
layout(binding = 0) readonly buffer Qkv { float qkv[]; };  // (B, T, W)
#endif
layout(binding = 1) writeonly buffer Out { float out_[]; };  // (B, TQ, C)
layout(binding = 2) writeonly buffer Lse { float lse[]; };  // (B, NH, TQ)

const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;
const float MASKED = -1.0e30;  // a masked score: exp2(MASKED - m) == 0, and no inf - inf = NaN

#ifdef TEXEL
// Floats at .. at+31 of a row that every lane needs: lane l holds at+4l .. at+4l+3; bcast(x, i) is
// element at+i in every lane.
const uint CHUNK = 32;
#define CHUNK_T vec4
vec4 chunk(uint at) { return imageLoad(qkv4, int(at / 4 + gl_SubgroupInvocationID)); }
float bcast(vec4 x, uint i) { return subgroupShuffle(x[i & 3], i >> 2); }
float qkv_at(uint at) { return imageLoad(qkv4, int(at / 4))[at & 3]; }
#else
// Element at + (lane mod LANES): one chunk of a row that every lane needs.
const uint CHUNK = LANES;
#define CHUNK_T float
float chunk(uint at) { return qkv[at + gl_SubgroupInvocationID % LANES]; }
float bcast(float x, uint i) { return subgroupBroadcast(x, i); }
float qkv_at(uint at) { return qkv[at]; }
#endif

void main() {
  const uint b = gl_WorkGroupID.y / p.NH, h = gl_WorkGroupID.y % p.NH;
  const uint q0 = p.FIRST + gl_WorkGroupID.x * gl_WorkGroupSize.x;
  const uint t_raw = q0 + gl_LocalInvocationID.x;
  const uint t = min(t_raw, p.T - 1);          // rows past T redo row T-1 and store nothing
  const uint last = min(q0 + gl_WorkGroupSize.x, p.T) - 1;  // the group's last row (uniform)
  const uint row = p.C + 2 * p.NKV * HS;       // floats per token in qkv
  const uint head = b * p.T * row + h * HS;    // q of (b, 0, h)
  const uint kv = h / (p.NH / p.NKV);          // its key/value head
  const uint k_off = p.C + kv * HS - h * HS, v_off = k_off + p.NKV * HS;  // k, v of (b, 0, kv) - head

  const float q_scale = LOG2E * inversesqrt(float(HS));
  float q[HS];
  float o[HS];
  [[unroll]] for (uint d = 0; d < HS; ++d) {
    q[d] = qkv_at(head + t * row + d) * q_scale;
    o[d] = 0.0;
  }
  float m = MASKED, l = 0.0;

  // Key 0 is in the first block and visible to every row, so m is finite after it.
  for (uint s0 = 0; s0 <= last; s0 += BC) {
    float score[BC];
    float m_new = m;
    [[unroll]] for (uint j = 0; j < BC; ++j) {
      const uint s = s0 + j;
      const uint k_at = head + min(s, p.T - 1) * row + k_off;
      float dot = 0.0;
      [[unroll]] for (uint d0 = 0; d0 < HS; d0 += CHUNK) {
        const CHUNK_T k = chunk(k_at + d0);
        [[unroll]] for (uint i = 0; i < CHUNK; ++i) dot = fma(q[d0 + i], bcast(k, i), dot);
      }
      score[j] = s <= t ? dot : MASKED;
      m_new = max(m_new, score[j]);
    }
    const float rescale = exp2(m - m_new);
    l *= rescale;
    [[unroll]] for (uint d = 0; d < HS; ++d) o[d] *= rescale;
    [[unroll]] for (uint j = 0; j < BC; ++j) {
      const float weight = exp2(score[j] - m_new);
      const uint v_at = head + min(s0 + j, p.T - 1) * row + v_off;
      l += weight;
      [[unroll]] for (uint d0 = 0; d0 < HS; d0 += CHUNK) {
        const CHUNK_T v = chunk(v_at + d0);
        [[unroll]] for (uint i = 0; i < CHUNK; ++i) o[d0 + i] = fma(weight, bcast(v, i), o[d0 + i]);
      }
    }
    m = m_new;
  }

  if (t_raw >= p.T) return;
  const float inv_l = 1.0 / l;
  const uint TQ = p.T - p.FIRST, tq = t - p.FIRST;  // rows stored, this row among them
  const uint out_at = (b * TQ + tq) * p.C + h * HS;
  [[unroll]] for (uint d = 0; d < HS; ++d) out_[out_at + d] = o[d] * inv_l;
  lse[(b * p.NH + h) * TQ + tq] = (m + log2(l)) * LN2;
}
