#version 450
// fill: out[i] = value for i < n. Grid-stride loop, so any n fits in the group-count limit.

layout(push_constant) uniform Push {
  uint n;
  float value;
} p;

layout(local_size_x_id = 0) in;

layout(binding = 0) writeonly buffer Out { float out_[]; };

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) out_[i] = p.value;
}
