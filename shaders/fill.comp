#version 450
// fill: out[i] = value for i < n. Grid-stride loop, so any n fits in the group-count limit.
// VEC4 (CPU devices, n % 4 == 0; n counts vec4s): vec4 stores, ~2x float stores on lavapipe.

layout(push_constant) uniform Push {
  uint n;
  float value;
} p;

layout(local_size_x_id = 0) in;
#extension GL_GOOGLE_include_directive : require
#include "element_loop.glsl"

#ifdef VEC4
layout(binding = 0) writeonly buffer Out { vec4 out_[]; };
#define VALUE_T vec4
#else
layout(binding = 0) writeonly buffer Out { float out_[]; };
#define VALUE_T float
#endif

void main() {
  const float value = p.value;  // read once: a push-constant read in a loop is 8 loads on lavapipe
  FOR_EACH_ELEMENT(i, p.n) out_[i] = VALUE_T(value);
}
