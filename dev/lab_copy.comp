#version 450
// LAB: streaming ceiling: dst = src over n texels (n4 = p.K). U texels per lane per loop iteration,
// lanes contiguous (8 lanes read 128 contiguous bytes per texel), a workgroup owns one contiguous span.
#extension GL_EXT_control_flow_attributes : require
layout(push_constant) uniform Push { uint M; uint N; uint K; } p;
layout(local_size_x = 8) in;
layout(constant_id = 0) const uint U = 4;
layout(constant_id = 1) const uint SPAN = 4096;  // texels per workgroup
#if defined(COPY_IMG4)
layout(rgba32f, binding = 0) uniform readonly imageBuffer src;
layout(rgba32f, binding = 1) uniform writeonly imageBuffer dst;
#define LOAD(i) imageLoad(src, int(i))
#define STORE(i, v) imageStore(dst, int(i), v)
#elif defined(COPY_IMG4_SSBO4)
layout(rgba32f, binding = 0) uniform readonly imageBuffer src;
layout(binding = 1) writeonly buffer D { vec4 dst[]; };
#define LOAD(i) imageLoad(src, int(i))
#define STORE(i, v) dst[i] = v
#elif defined(COPY_SSBO1)
layout(binding = 0) readonly buffer S { float src[]; };
layout(binding = 1) writeonly buffer D { float dst[]; };
#define LOAD(i) vec4(src[i])
#define STORE(i, v) dst[i] = (v).x
#else
layout(binding = 0) readonly buffer S { vec4 src[]; };
layout(binding = 1) writeonly buffer D { vec4 dst[]; };
#define LOAD(i) src[i]
#define STORE(i, v) dst[i] = v
#endif
void main() {
  const uint l = gl_LocalInvocationID.x;
  uint at = gl_WorkGroupID.x * SPAN + l;
  const uint end = min(gl_WorkGroupID.x * SPAN + SPAN, p.K);
  for (uint i = 0; i < SPAN / (8 * U); ++i) {
    vec4 v[U];
    [[unroll]] for (uint u = 0; u < U; ++u) v[u] = LOAD(at + 8 * u);
    [[unroll]] for (uint u = 0; u < U; ++u) STORE(at + 8 * u, v[u] * 1.0001);
    at += 8 * U;
  }
}
