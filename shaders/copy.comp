#version 450
// copy: dst[i] = src[i] for i < n. Grid-stride loop.

layout(push_constant) uniform Push {
  uint n;
} p;

layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer Src { float src[]; };
layout(binding = 1) writeonly buffer Dst { float dst[]; };

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) dst[i] = src[i];
}
