#version 450
// sum_squares: out[g] = sum over the chunk of in[0..n) that workgroup g owns of in[i]^2 (SQUARE on),
// or of in[i] (SQUARE off: the final pass over the partial sums). Grid-stride loop, then a
// fixed-order tree over the workgroup: the order of additions depends only on n and the group
// count, so results are reproducible bit for bit.

layout(push_constant) uniform Push {
  uint n;
  uint square;  // 1: sum in[i]^2, 0: sum in[i]
} p;

layout(local_size_x_id = 0) in;  // a power of two (checked by the launcher)

layout(binding = 0) readonly buffer In { float in_[]; };
layout(binding = 1) writeonly buffer Out { float out_[]; };

shared float partial[gl_WorkGroupSize.x];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  float sum = 0.0;
  if (p.square != 0) {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) sum = fma(in_[i], in_[i], sum);
  } else {
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) sum += in_[i];
  }
  partial[tid] = sum;
  barrier();
  for (uint width = gl_WorkGroupSize.x / 2; width > 0; width /= 2) {
    if (tid < width) partial[tid] += partial[tid + width];
    barrier();
  }
  if (tid == 0) out_[gl_WorkGroupID.x] = partial[0];
}
