#version 450
// reduce_sum: out[g] = sum of the chunk of in[0..n) that workgroup g owns (grid-stride, fixed order),
// so one pass turns n values into gl_NumWorkGroups.x partial sums and a second pass with one group
// finishes. The order of additions depends only on n and the group count: results are reproducible.

layout(push_constant) uniform Push {
  uint n;
} p;

layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer In { float in_[]; };
layout(binding = 1) writeonly buffer Out { float out_[]; };

shared float partial[gl_WorkGroupSize.x];

void main() {
  const uint tid = gl_LocalInvocationID.x;
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  float sum = 0.0;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) sum += in_[i];
  partial[tid] = sum;
  barrier();
  // tree reduction; gl_WorkGroupSize.x is a power of two (checked by the launcher)
  for (uint width = gl_WorkGroupSize.x / 2; width > 0; width /= 2) {
    if (tid < width) partial[tid] += partial[tid + width];
    barrier();
  }
  if (tid == 0) out_[gl_WorkGroupID.x] = partial[0];
}
