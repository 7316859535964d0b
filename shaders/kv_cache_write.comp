#version 450
// KV-cache write of a decoding step (GptDecoder::step): row r of qkv (R, W) goes to row POS of
// sequence SLOT in a layer's cache (S, T, W), with rows[r] = (token, POS, SLOT, 0). One dispatch for
// every row of the step instead of a copy per row; a plain copy, so the cached bits are qkv's.

layout(push_constant) uniform Push {
  uint R;  // rows
  uint T;  // rows per sequence in the cache
  uint W;  // floats per row
} p;

layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Rows { ivec4 rows[]; };  // (R): (token, position, slot, 0)
layout(binding = 1) readonly buffer Src { float qkv[]; };    // (R, W)
layout(binding = 2) writeonly buffer Dst { float cache[]; }; // (S, T, W)

void main() {
  const uint r = gl_WorkGroupID.y;
  const ivec4 row = rows[r];
  const uint to = (uint(row.z) * p.T + uint(row.y)) * p.W;
  for (uint c = gl_LocalInvocationID.x; c < p.W; c += gl_WorkGroupSize.x) cache[to + c] = qkv[r * p.W + c];
}
