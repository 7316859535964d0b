#version 450
// Elementwise ops over n floats, one variant per define:
//   OP_ADD: out = a + b    OP_MUL: out = a * b    OP_SCALE: out = a * scale (no b binding)
//   OP_SOFTCAP: out = scale·tanh(a/scale) (tanh logit softcapping, scale = the cap; no b binding)
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
#if defined(OP_SCALE) || defined(OP_SOFTCAP)
layout(binding = 1) writeonly buffer Out { ELEMENT out_[]; };
#else
#ifdef TEXEL
layout(rgba32f, binding = 1) uniform readonly imageBuffer b4;
#else
layout(binding = 1) readonly buffer InB { float b[]; };
#endif
layout(binding = 2) writeonly buffer Out { ELEMENT out_[]; };
#endif

#ifdef OP_SOFTCAP
// cap·tanh(x/cap) without the builtin tanh, whose precision Vulkan leaves loose and which some
// drivers compute as (e^2u - 1)/(e^2u + 1) = inf/inf for large u. With u = |x|/cap:
// u < 0.25: tanh's Taylor series to u^9 (the next term is below 1e-8 relative); else
// (1 - e^-2u)/(1 + e^-2u), where e^-2u <= 0.61 keeps the cancellation within a few ulp and a large
// or infinite u gives exactly 1.
float softcap1(float x, float cap) {
  const float u = abs(x) / cap, u2 = u * u;
  const float series = u * (1.0 + u2 * (-1.0 / 3.0 + u2 * (2.0 / 15.0 +
                                u2 * (-17.0 / 315.0 + u2 * (62.0 / 2835.0)))));
  const float t = exp(-2.0 * u);
  const float y = cap * mix((1.0 - t) / (1.0 + t), series, u < 0.25);
  return mix(y, -y, x < 0.0);
}
float softcap_of(float x, float cap) { return softcap1(x, cap); }
vec4 softcap_of(vec4 x, float cap) {
  return vec4(softcap1(x.x, cap), softcap1(x.y, cap), softcap1(x.z, cap), softcap1(x.w, cap));
}
#endif

void main() {
  FOR_EACH_ELEMENT(i, p.n) {
#if defined(OP_ADD)
    out_[i] = A(i) + B(i);
#elif defined(OP_MUL)
    out_[i] = A(i) * B(i);
#elif defined(OP_SCALE)
    out_[i] = A(i) * p.scale;
#elif defined(OP_SOFTCAP)
    out_[i] = softcap_of(A(i), p.scale);
#else
#error "elementwise.comp needs OP_ADD, OP_MUL, OP_SCALE or OP_SOFTCAP"
#endif
  }
}
