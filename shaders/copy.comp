#version 450
// copy: dst[i] = src[i] for i < n. Grid-stride loop.
// TEXEL (CPU devices, n % 4 == 0; n counts texels): src read as rgba32f texels, dst written as vec4s
// (on lavapipe ~4x the float copy: dev/README.md).

layout(push_constant) uniform Push {
  uint n;
} p;

layout(local_size_x_id = 0) in;
#extension GL_GOOGLE_include_directive : require
#include "element_loop.glsl"

#ifdef TEXEL
layout(rgba32f, binding = 0) uniform readonly imageBuffer src4;
layout(binding = 1) writeonly buffer Dst { vec4 dst[]; };
#define SRC(i) imageLoad(src4, int(i))
#else
layout(binding = 0) readonly buffer Src { float src[]; };
layout(binding = 1) writeonly buffer Dst { float dst[]; };
#define SRC(i) src[i]
#endif

void main() {
  FOR_EACH_ELEMENT(i, p.n) dst[i] = SRC(i);
}
