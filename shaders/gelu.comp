#version 450
// The MLP activation, elementwise over n floats: GELU with the tanh approximation (PyTorch
// approximate='tanh'), or with RELU2 relu2(x) = max(x, 0)^2 (gelu_math.glsl has both and their
// derivatives):
//   FORWARD:  out = act(x)
//   BACKWARD: dx = dout * act'(x), with gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x sech^2(u) sqrt(2/pi)
//             (1 + 3 * 0.044715 x^2), u = sqrt(2/pi) (x + 0.044715 x^3), and relu2'(x) = 2 max(x, 0)
// dx may alias dout: each invocation reads its element before writing it.
// TEXEL (CPU devices, n % 4 == 0): each invocation takes a texel (n counts texels), read from rgba32f
// texel buffers (inline, branch-free loads on lavapipe, where storage-buffer loads inside a loop are
// loops over the lanes) and written as a vec4 to a storage buffer: lavapipe's imageStore streams at
// ~4 GB/s, a vec4 storage-buffer store at ~19 GB/s (dev/README.md, the copy lab).

#extension GL_GOOGLE_include_directive : require

layout(push_constant) uniform Push {
  uint n;
} p;

layout(local_size_x_id = 0) in;

#if !defined(FORWARD) && !defined(BACKWARD)
#error "gelu.comp needs FORWARD or BACKWARD"
#endif
#ifdef TEXEL
#define VALUE vec4
layout(rgba32f, binding = 0) uniform readonly imageBuffer x4;
#define X(i) imageLoad(x4, int(i))
#if defined(FORWARD)
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
#if defined(FORWARD)
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

#ifdef RELU2
#define ACT relu2
#define ACT_GRAD relu2_grad
#else
#define ACT gelu
#define ACT_GRAD gelu_grad
#endif

void main() {
  FOR_EACH_ELEMENT(i, p.n) {
    const VALUE v = X(i);
#if defined(FORWARD)
    STORE_OUT(i, ACT(v));
#else
    STORE_DX(i, ACT_GRAD(v) * DOUT(i));
#endif
  }
}
