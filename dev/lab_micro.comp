#version 450
// LAB: cost of one loop iteration with NL loads, NS constant-index shuffles, NF vec4 FMAs on NA accumulators.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_shuffle : require
layout(push_constant) uniform Push { uint M; uint N; uint K; } p;
layout(local_size_x = 8) in;
layout(constant_id = 0) const uint NL = 1;
layout(constant_id = 1) const uint NF = 16;
layout(constant_id = 2) const uint NS = 0;
layout(constant_id = 3) const uint NA = 4;
#if defined(LOAD_IMG4)
layout(rgba32f, binding = 0) uniform readonly imageBuffer A;
layout(rgba32f, binding = 1) uniform readonly imageBuffer B;
#define LOAD(i) imageLoad(A, i)
#elif defined(LOAD_IMG1)
layout(r32f, binding = 0) uniform readonly imageBuffer A;
layout(r32f, binding = 1) uniform readonly imageBuffer B;
#define LOAD(i) vec4(imageLoad(A, i).x)
#elif defined(LOAD_SSBO4)
layout(binding = 0) readonly buffer Abuf { vec4 a[]; };
layout(binding = 1) readonly buffer Bbuf { vec4 b[]; };
#define LOAD(i) a[i]
#elif defined(LOAD_SSBO1)
layout(binding = 0) readonly buffer Abuf { float a[]; };
layout(binding = 1) readonly buffer Bbuf { float b[]; };
#define LOAD(i) vec4(a[i])
#endif
layout(binding = 2) buffer Cbuf { float c[]; };
void main() {
  const uint l = gl_SubgroupInvocationID;
  const uint iters = p.K;
  vec4 acc[NA];
  [[unroll]] for (uint i = 0; i < NA; ++i) acc[i] = vec4(float(i));
  int idx = int(gl_WorkGroupID.x * 8 + l);
  vec4 v = vec4(1.0001);
  for (uint it = 0; it < iters; ++it) {
    [[unroll]] for (uint j = 0; j < NL; ++j) { v += LOAD(idx + int(j) * 8); }
    idx = (idx + int(NL) * 8) & 16383;
    vec4 s = v;
    [[unroll]] for (uint j = 0; j < NS; ++j) { s.x += subgroupShuffle(v[j & 3], j & 7); }
    [[unroll]] for (uint j = 0; j < NF; ++j) acc[j % NA] = fma(acc[j % NA], s, vec4(0.5));
  }
  vec4 t = vec4(0);
  [[unroll]] for (uint i = 0; i < NA; ++i) t += acc[i];
  c[gl_WorkGroupID.x * 8 + l] = t.x + t.y + t.z + t.w;
}
