#version 450
// GELU, tanh approximation (PyTorch approximate='tanh'), elementwise over n floats:
//   GELU_FORWARD:  out = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
//   GELU_BACKWARD: dx = dout * gelu'(x),
//                  gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x sech^2(u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
// tanh and sech^2 go through e = exp(-2|u|) <= 1, which cannot overflow (GLSL tanh may return NaN for
// large |u| on some drivers). dx may alias dout: each invocation reads its element before writing it.
// TEXEL (CPU devices, n % 4 == 0): the tensors are rgba32f texel buffers and each invocation takes a
// texel (n counts texels): inline, branch-free loads and stores on lavapipe, where storage-buffer
// accesses inside a loop are loops over the lanes.

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
layout(rgba32f, binding = 1) uniform writeonly imageBuffer out4;
#define STORE_OUT(i, value) imageStore(out4, int(i), value)
#else
layout(rgba32f, binding = 1) uniform imageBuffer dout4;
layout(rgba32f, binding = 2) uniform imageBuffer dx4;
#define DOUT(i) imageLoad(dout4, int(i))
#define STORE_DX(i, value) imageStore(dx4, int(i), value)
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

const float kBeta = 0.7978845608028654;  // sqrt(2/pi)
const float kKappa = 0.044715;

// tanh(u) and sech^2(u) = 1 - tanh^2(u), both accurate for any finite or infinite u.
void tanh_sech2(VALUE u, out VALUE t, out VALUE s2) {
  const VALUE e = exp(-2.0 * abs(u));  // in [0, 1]
  const VALUE inv = 1.0 / (1.0 + e);
  t = sign(u) * (1.0 - e) * inv;
  s2 = 4.0 * e * inv * inv;  // without the cancellation of 1 - t*t
}

void main() {
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
    const VALUE v = X(i);
    const VALUE u = kBeta * (v + kKappa * v * v * v);
    VALUE t, s2;
    tanh_sech2(u, t, s2);
#if defined(GELU_FORWARD)
    STORE_OUT(i, 0.5 * v * (1.0 + t));
#else
    const VALUE grad = 0.5 * (1.0 + t) + 0.5 * v * s2 * kBeta * (1.0 + 3.0 * kKappa * v * v);
    STORE_DX(i, grad * DOUT(i));
#endif
  }
}
