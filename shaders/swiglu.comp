#version 450
// The SwiGLU MLP activation (Llama/PaLM), row by row: x is (N, 2H), each row the gate g (columns
// [0, H)) then the up projection u (columns [H, 2H)):
//   FORWARD:  out (N, H) = silu(g) * u,  silu(g) = g * s, s = sigmoid(g) = 1 / (1 + exp(-g))
//   BACKWARD: dx (N, 2H) from dout (N, H):
//             d gate = dout * u * silu'(g), silu'(g) = s (1 + g (1 - s))
//             d up   = dout * silu(g)
// s and 1 - s = sigmoid(-g) both come from e = exp(-|g|) <= 1: neither overflows nor cancels.
// Each invocation takes one (row, column) pair of the H columns (n = N·H pairs, h = H); dx is
// written whole (both halves), never accumulated, and must not alias x or dout.
// TEXEL (CPU devices, H % 4 == 0): pairs of texels instead (n = N·H/4, h = H/4), read from rgba32f
// texel buffers and written as vec4s to storage buffers, as gelu.comp's TEXEL variant and for the
// same reason (lavapipe: inline texel loads, vec4 stores stream ~5x faster than imageStore).

#extension GL_GOOGLE_include_directive : require

layout(push_constant) uniform Push {
  uint n;  // pairs: N·H, or N·H/4 texels with TEXEL
  uint h;  // H, or H/4 with TEXEL
} p;

layout(local_size_x_id = 0) in;

#if !defined(FORWARD) && !defined(BACKWARD)
#error "swiglu.comp needs FORWARD or BACKWARD"
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
layout(binding = 2) writeonly buffer DX4 { vec4 dx4[]; };
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
layout(binding = 1) readonly buffer DOut { float dout[]; };
layout(binding = 2) writeonly buffer DX { float dx[]; };
#define DOUT(i) dout[i]
#define STORE_DX(i, value) dx[i] = value
#endif
#endif

#include "element_loop.glsl"

// s = sigmoid(g) and sm = 1 - s = sigmoid(-g): with e = exp(-|g|), the one of them on g's side is
// 1 / (1 + e) and the other e / (1 + e).
void sigmoids(VALUE g, out VALUE s, out VALUE sm) {
  const VALUE e = exp(-abs(g));
  const VALUE inv = 1.0 / (1.0 + e);
  const VALUE positive = step(0.0, g);  // 1 where g >= 0, else 0
  s = mix(e, VALUE(1.0), positive) * inv;
  sm = mix(VALUE(1.0), e, positive) * inv;
}

void main() {
  FOR_EACH_ELEMENT(i, p.n) {
    const uint row = i / p.h, col = i - row * p.h;
    const uint gate = row * 2 * p.h + col, up = gate + p.h;  // positions in x (and dx)
    const VALUE g = X(gate), u = X(up);
    VALUE s, sm;
    sigmoids(g, s, sm);
#if defined(FORWARD)
    STORE_OUT(i, g * s * u);
#else
    const VALUE d = DOUT(i);
    STORE_DX(gate, d * u * (s * (1.0 + g * sm)));
    STORE_DX(up, d * (g * s));
#endif
  }
}
