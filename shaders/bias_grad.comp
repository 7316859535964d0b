#version 450
// Bias gradient: dbias[c] += sum over rows n of dy[n, c]   (d(x·Wᵀ + b)/db summed over the batch)
// One invocation per column walks the rows in order: no atomics, bit-reproducible.

layout(push_constant) uniform Push {
  uint N;  // rows (B·T)
  uint C;  // columns (the layer's outputs)
} p;

layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer DY { float dy[]; };
layout(binding = 1) buffer DBias { float dbias[]; };

void main() {
  const uint c = gl_GlobalInvocationID.x;
  if (c >= p.C) return;
  float sum = 0.0;
  for (uint n = 0; n < p.N; ++n) sum += dy[n * p.C + c];
  dbias[c] += sum;
}
