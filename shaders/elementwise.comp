#version 450
// Elementwise binary ops over n floats, one variant per define:
//   OP_ADD: out = a + b    OP_MUL: out = a * b    OP_SCALE: out = a * scale (no b binding)
// out may alias a or b (each element is read before it is written by the same invocation).
// TEXEL (CPU devices, n % 4 == 0; n counts texels): a and b are read as rgba32f texels and out is
// written as vec4s (lavapipe: inline texel loads, and vec4 stores ~2x float stores; dev/README.md).

layout(push_constant) uniform Push {
  uint n;
  float scale;
} p;

layout(local_size_x_id = 0) in;
#extension GL_GOOGLE_include_directive : require
#include "element_loop.glsl"

#ifdef TEXEL
layout(rgba32f, binding = 0) uniform readonly imageBuffer a4;
#define A(i) imageLoad(a4, int(i))
#define B(i) imageLoad(b4, int(i))
#define ELEMENT vec4
#else
layout(binding = 0) readonly buffer InA { float a[]; };
#define A(i) a[i]
#define B(i) b[i]
#define ELEMENT float
#endif
#ifdef OP_SCALE
layout(binding = 1) writeonly buffer Out { ELEMENT out_[]; };
#else
#ifdef TEXEL
layout(rgba32f, binding = 1) uniform readonly imageBuffer b4;
#else
layout(binding = 1) readonly buffer InB { float b[]; };
#endif
layout(binding = 2) writeonly buffer Out { ELEMENT out_[]; };
#endif

void main() {
  FOR_EACH_ELEMENT(i, p.n) {
#if defined(OP_ADD)
    out_[i] = A(i) + B(i);
#elif defined(OP_MUL)
    out_[i] = A(i) * B(i);
#elif defined(OP_SCALE)
    out_[i] = A(i) * p.scale;
#else
#error "elementwise.comp needs OP_ADD, OP_MUL or OP_SCALE"
#endif
  }
}
