#version 450
// Elementwise binary ops over n floats, one variant per define:
//   OP_ADD: out = a + b    OP_MUL: out = a * b    OP_SCALE: out = a * scale (no b binding)
// out may alias a or b (each element is read before it is written by the same invocation).

layout(push_constant) uniform Push {
  uint n;
  float scale;
} p;

layout(local_size_x_id = 0) in;

layout(binding = 0) readonly buffer A { float a[]; };
#ifdef OP_SCALE
layout(binding = 1) writeonly buffer Out { float out_[]; };
#else
layout(binding = 1) readonly buffer B { float b[]; };
layout(binding = 2) writeonly buffer Out { float out_[]; };
#endif

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
#if defined(OP_ADD)
    out_[i] = a[i] + b[i];
#elif defined(OP_MUL)
    out_[i] = a[i] * b[i];
#elif defined(OP_SCALE)
    out_[i] = a[i] * p.scale;
#else
#error "elementwise.comp needs OP_ADD, OP_MUL or OP_SCALE"
#endif
  }
}
