#version 450
// Causal attention forward for a few query rows on CPU devices (lavapipe): the KV-cache decoding
// case, the maths of attention_forward.comp (out, and lse = log sum exp of the scaled scores) for
// query rows FIRST.. of qkv (B,T,W), W = (NH + 2·NKV)·HS ([q | k | v], query head h reading key/value
// head h / (NH/NKV)), at most a few of them. attention_forward.comp gives each query
// row a lane, so one decoded token kept one lane of 8 busy per head while it walked every cached key.
// Here one workgroup (one 8-lane subgroup) owns one (sequence, head, query row) and its lanes split
// the keys: lane l takes keys l, l + 8, ... <= the query's position, each with its own online
// softmax (running max m, sum s, output accumulator), and the 8 partial states merge at the end
// through xor-shuffles (one vector permute each on 8 lanes). qkv is read as rgba32f texels (inline,
// branch-free loads on lavapipe, where storage-buffer loads inside a loop are loops over the lanes);
// HS % 32 == 0 as for the other texel attention kernels (the launcher checks). Keys past the query
// are clamped to a valid row and weighted 0, so the loop has no branch. The order of additions
// depends only on the shape: the same bits every run.
// ROWS (GptDecoder::step, several sequences in one dispatch): qkv is a layer's KV cache (S, T, W),
// S sequences (slots) of T rows each, and workgroup x is step row r, whose query is row POS of
// sequence SLOT, read from rows[r] = (token, POS, SLOT, 0); out is (R, C) and lse (R, NH). Only the
// addressing differs from the plain kernel run on that sequence's first POS + 1 rows with FIRST =
// POS, so each row's bits are the same as that one-row call's.

#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require

layout(push_constant) uniform Push {  // attention_forward.comp's push block
  uint T;
  uint C;
  uint NH;
  uint FIRST;  // first query row computed
  uint NKV;    // key/value heads
} p;

layout(local_size_x = 8) in;
layout(constant_id = 0) const uint HS = 64;  // head size: a multiple of 32, at most 128

layout(rgba32f, binding = 0) uniform readonly imageBuffer qkv4;  // (B, T, W)
layout(binding = 1) writeonly buffer Out { vec4 out4[]; };       // (B, TQ, C)
layout(binding = 2) writeonly buffer Lse { float lse[]; };       // (B, NH, TQ); ROWS: (R, NH)
#ifdef ROWS
layout(binding = 3) readonly buffer Rows { ivec4 rows[]; };      // (R): (token, position, slot, 0)
#endif

const uint H4 = HS / 4;  // texels per head row
const float LOG2E = 1.4426950408889634;
const float LN2 = 0.6931471805599453;
const float LOWEST = -3.402823466e38;  // the running max before any key: finite, so no inf - inf

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint T = p.T, C4 = p.C / 4;
#ifdef ROWS
  const uint r = gl_WorkGroupID.x, h = gl_WorkGroupID.y;
  const ivec4 row = rows[r];
  const uint b = uint(row.z), t = uint(row.y);  // the row's sequence and position: keys 0..t
  const uint out_at = r * C4 + h * H4, lse_at = r * p.NH + h;
#else
  const uint TQ = p.T - p.FIRST;
  const uint tq = gl_WorkGroupID.x, h = gl_WorkGroupID.y % p.NH, b = gl_WorkGroupID.y / p.NH;
  const uint t = p.FIRST + tq;  // the query's position: keys 0..t
  const uint out_at = (b * TQ + tq) * C4 + h * H4, lse_at = (b * p.NH + h) * TQ + tq;
#endif
  const uint row4 = C4 + 2 * p.NKV * H4;  // texels per qkv row
  const int head = int(b * T * row4 + h * H4);
  const uint kv = h / (p.NH / p.NKV);
  const uint k_off = C4 + kv * H4 - h * H4, v_off = p.NKV * H4;  // k from head; v from k

  // q in every lane (the same texels: a uniform index), pre-scaled so that scores are in log2 units
  const float scale = LOG2E / sqrt(float(HS));
  vec4 q[H4];
  [[unroll]] for (uint d = 0; d < H4; ++d) q[d] = imageLoad(qkv4, head + int(t * row4 + d)) * scale;

  float m = LOWEST, s = 0.0;
  vec4 acc[H4];
  [[unroll]] for (uint d = 0; d < H4; ++d) acc[d] = vec4(0.0);
  const uint steps = t / 8 + 1;  // key blocks of 8: the last one holds key t
  uint key = lane;
  for (uint i = 0; i < steps; ++i) {
    const bool valid = key <= t;
    const int k_at = head + int(min(key, t) * row4 + k_off);  // row's k; v follows v_off texels later
    vec4 dot4 = vec4(0.0);
    [[unroll]] for (uint d = 0; d < H4; ++d) dot4 += q[d] * imageLoad(qkv4, k_at + int(d));
    const float score = valid ? (dot4.x + dot4.y) + (dot4.z + dot4.w) : LOWEST;
    const float m_new = max(m, score);
    const float keep = exp2(m - m_new), w = valid ? exp2(score - m_new) : 0.0;
    s = s * keep + w;
    [[unroll]] for (uint d = 0; d < H4; ++d) acc[d] = acc[d] * keep + w * imageLoad(qkv4, k_at + int(v_off + d));
    m = m_new;
    key += 8;
  }

  // merge the 8 lanes' states: a common max, then sums of the rescaled s and accumulators
  float mx = m;
  [[unroll]] for (uint bit = 1; bit < 8; bit <<= 1) mx = max(mx, subgroupShuffleXor(mx, bit));
  const float f = exp2(m - mx);  // lane 0 holds key 0, so mx is a real score and f is finite
  s *= f;
  [[unroll]] for (uint d = 0; d < H4; ++d) acc[d] *= f;
  [[unroll]] for (uint bit = 1; bit < 8; bit <<= 1) {
    s += subgroupShuffleXor(s, bit);
    [[unroll]] for (uint d = 0; d < H4; ++d)
      acc[d] += vec4(subgroupShuffleXor(acc[d].x, bit), subgroupShuffleXor(acc[d].y, bit),
                     subgroupShuffleXor(acc[d].z, bit), subgroupShuffleXor(acc[d].w, bit));
  }

  // every lane holds the totals: lane l stores the head's texels l, l + 8, ...
  const float inv = 1.0 / s;
  [[unroll]] for (uint d = 0; d < H4; ++d)
    if (d % 8 == lane) out4[out_at + d] = acc[d] * inv;
  if (lane == 0) lse[lse_at] = (mx + log2(s)) * LN2;
}
