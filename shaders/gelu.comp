#version 450
// GELU, tanh approximation (PyTorch approximate='tanh'), elementwise over n floats:
//   GELU_FORWARD:  out = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   GELU_BACKWARD: dx = dout * gelu'(x),
//                  gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x sech^2(u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
// (gelu_math.glsl has tanh and sech^2.) dx may alias dout: each invocation reads its element before
// writing it.
// TEXEL (CPU devices, n % 4 == 0): each invocation takes a texel (n counts texels), read from rgba32f
// texel buffers (inline, branch-free loads on lavapipe, where storage-buffer loads inside a loop are
// loops over the lanes) and written as a vec4 to a storage buffer: lavapipe's imageStore streams at
// ~4 GB/s, a vec4 storage-buffer store at ~19 GB/s (dev/README.md, the copy lab).

#extension GL_GOOGLE_include_directive : require

layout(push_constant) uniform Push {
  uint n;
} p;

layout(local_size_x_id = 0) in;

#if !defined(GELU_FORWARD) && !defined(GELU_BACKWARD)
#error "gelu.comp needs GELU_FORWARD or GELU_BACKWARD"
#endif
#ifdef TEXEL
#define VALUE vec4
layout(rgba32f, binding = 0) uniform readonly imageBuffer x4;
#define X(i) imageLoad(x4, int(i))
#if defined(GELU_FORWARD)
layout(binding = 1) writeonly buffer Out4 { vec4 out4[]; };
#define STORE_OUT(i, value) out4[i] = value
#else
layout(rgba32f, binding = 1) uniform readonly imageBuffer dout4;
layout(binding = 2) buffer DX4 { vec4 dx4[]; };  // may be dout's memory: read before written
#define DOUT(i) imageLoad(dout4, int(i))
#define STORE_DX(i, value) dx4[i] = value
#endif
#else
#define VALUE float
layout(binding = 0) readonly buffer X { float x[]; };
#define X(i) x[i]
#if defined(GELU_FORWARD)
layout(binding = 1) writeonly buffer Out { float out_[]; };
#define STORE_OUT(i, value) out_[i] = value
#else
// dout and dx are declared without readonly/writeonly so that they may be the same buffer.
layout(binding = 1) buffer DOut { float dout[]; };
layout(binding = 2) buffer DX { float dx[]; };
#define DOUT(i) dout[i]
#define STORE_DX(i, value) dx[i] = value
#endif
#endif

#include "gelu_math.glsl"
#include "element_loop.glsl"

void main() {
  FOR_EACH_ELEMENT(i, p.n) {
    const VALUE v = X(i);
#if defined(GELU_FORWARD)
    STORE_OUT(i, gelu(v));
#else
    VALUE t, s2;
    tanh_sech2(gelu_u(v), t, s2);
    const VALUE grad = 0.5 * (1.0 + t) + 0.5 * v * s2 * kBeta * (1.0 + 3.0 * kKappa * v * v);
    STORE_DX(i, grad * DOUT(i));
#endif
  }
}
