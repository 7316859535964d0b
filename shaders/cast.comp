#version 450
// cast: dst[i] = f16(src[i]) for i < n: f32 in, f16 out (the activations a mixed-precision step
// saves in half, and the weights' f16 copy). Values beyond f16's range become +-inf (a loss-scale
// overflow the optimizer then sees as a non-finite gradient).
// TEXEL (CPU devices, n % 4 == 0; n counts texels): src read as rgba32f texels (lavapipe's fast
// load), dst written as f16vec4s.

#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require

layout(push_constant) uniform Push {
  uint n;
} p;

layout(local_size_x_id = 0) in;
#extension GL_GOOGLE_include_directive : require
#include "element_loop.glsl"

#ifdef TEXEL
layout(rgba32f, binding = 0) uniform readonly imageBuffer src4;
layout(binding = 1) writeonly buffer Dst { f16vec4 dst[]; };
#define SRC(i) f16vec4(imageLoad(src4, int(i)))
#else
layout(binding = 0) readonly buffer Src { float src[]; };
layout(binding = 1) writeonly buffer Dst { float16_t dst[]; };
#define SRC(i) float16_t(src[i])
#endif

void main() {
  FOR_EACH_ELEMENT(i, p.n) dst[i] = SRC(i);
}
