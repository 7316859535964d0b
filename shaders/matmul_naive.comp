#version 450
// Naive matmul, the baseline the tiled kernel is measured against: one invocation per C element,
// C (M,N) = A (M,K) · B (K,N), row-major, no shared memory.

layout(push_constant) uniform Push {
  uint M;
  uint N;
  uint K;
} p;

layout(local_size_x = 16, local_size_y = 16) in;

layout(binding = 0) readonly buffer A { float a[]; };
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) writeonly buffer C { float c[]; };

void main() {
  const uint n = gl_GlobalInvocationID.x;
  const uint m = gl_GlobalInvocationID.y;
  if (m >= p.M || n >= p.N) return;
  float sum = 0.0;
  for (uint k = 0; k < p.K; ++k) sum += a[m * p.K + k] * b[k * p.N + n];
  c[m * p.N + n] = sum;
}
