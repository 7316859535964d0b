#version 450
// AdamW step over one chunk of a parameter range, PyTorch semantics (clip_grad_norm_ + torch.optim.AdamW,
// single-tensor path of the Debian reference torch 1.13), the clip coefficient computed here from the
// squared global norm:
//   coef = max_norm / (sqrt(norm_sq) + 1e-6);  g = coef < 1 ? g * coef : g    (max_norm <= 0: no clip)
//   (with a loss scale S: norm_sq and g are S² and S times the loss's, so sqrt(norm_sq) / S and g / S)
//   p = p * (1 - lr*wd)
//   m = b1*m + (1 - b1)*g           v = b2*v + (1 - b2)*g^2
//   p = p - step_size * m / (sqrt(v) / bc2_sqrt + eps)   step_size = lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t)
// The host folds the scalars (in double, like PyTorch's Python floats); grads are only read. The
// scalars that change every step (decay, step_size, bc2_sqrt) are read from a small device buffer
// that the host writes before each submit, so that a recorded training step replays unchanged; the
// run's constants stay push constants.
// A non-finite squared norm (a NaN or inf gradient somewhere, or an overflowing sum) skips the step:
// params, m and v stay as they were, so one bad batch cannot poison the weights.
// TEXEL (CPU devices, n % 4 == 0): each invocation takes a texel (n counts texels); params, grads, m
// and v are read as rgba32f texels (inline, branch-free loads on lavapipe, where storage-buffer loads
// inside a loop are loops over the lanes) and params, m and v written as vec4s through storage-buffer
// bindings of the same memory (lavapipe's imageStore streams at ~4 GB/s, a vec4 store at ~19:
// dev/README.md). Each invocation reads its texel before writing it. The push constants are read once,
// before the loop (lavapipe hoists nothing, and a push-constant read in a loop is 8 scalar loads).

// F16_COPY (mixed precision): the updated parameters are also written rounded to f16 into params16,
// the copy the f16 matmuls read, so it never lags the f32 master weights.
#ifdef F16_COPY
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#endif

layout(push_constant) uniform Push {
  uint n;
  float beta1;
  float beta2;
  float one_minus_beta1;
  float one_minus_beta2;
  float eps;
  float max_norm;   // <= 0: no clipping
} p;

layout(local_size_x_id = 0) in;
#extension GL_GOOGLE_include_directive : require
#include "element_loop.glsl"

#ifdef TEXEL
#define VALUE vec4
layout(rgba32f, binding = 0) uniform readonly imageBuffer params4;
layout(rgba32f, binding = 1) uniform readonly imageBuffer grads4;
layout(rgba32f, binding = 2) uniform readonly imageBuffer m4;
layout(rgba32f, binding = 3) uniform readonly imageBuffer v4;
layout(binding = 5) writeonly buffer ParamsOut { vec4 params_out[]; };
layout(binding = 6) writeonly buffer MOut { vec4 m_out[]; };
layout(binding = 7) writeonly buffer VOut { vec4 v_out[]; };
#define LOAD(name, i) imageLoad(name##4, int(i))
#define STORE(name, i, value) name##_out[i] = value
#else
#define VALUE float
layout(binding = 0) buffer Params { float params[]; };
layout(binding = 1) readonly buffer Grads { float grads[]; };
layout(binding = 2) buffer M { float m[]; };
layout(binding = 3) buffer V { float v[]; };
#define LOAD(name, i) name[i]
#define STORE(name, i, value) name[i] = value
#endif
layout(binding = 4) readonly buffer NormSq { float norm_sq[]; };  // [0]: sum of squares of all grads
#ifdef TEXEL
layout(binding = 8) readonly buffer Step {
#else
layout(binding = 5) readonly buffer Step {
#endif
  float decay;      // 1 - lr * weight_decay
  float step_size;  // lr / (1 - beta1^step)
  float bc2_sqrt;   // sqrt(1 - beta2^step)
  float inv_loss_scale;  // 1 / S: the gradients and their norm are S times the loss's (fp16 loss scaling)
} s;
#ifdef F16_COPY
#ifdef TEXEL
layout(binding = 9) writeonly buffer Params16 { f16vec4 params16[]; };
#define STORE16(i, value) params16[i] = f16vec4(value)
#else
layout(binding = 6) writeonly buffer Params16 { float16_t params16[]; };
#define STORE16(i, value) params16[i] = float16_t(value)
#endif
#else
#define STORE16(i, value)
#endif

void main() {
  if (isnan(norm_sq[0]) || isinf(norm_sq[0])) return;
  const float inv_loss_scale = s.inv_loss_scale;  // 1 without loss scaling: every product below exact
  float coef = 1.0;
  if (p.max_norm > 0.0) {
    const float c = p.max_norm / (sqrt(norm_sq[0]) * inv_loss_scale + 1e-6);
    if (c < 1.0) coef = c;
  }
  coef *= inv_loss_scale;
  const uint n = p.n;
  const float beta1 = p.beta1, beta2 = p.beta2, one_minus_beta1 = p.one_minus_beta1;
  const float one_minus_beta2 = p.one_minus_beta2, bc2_sqrt = s.bc2_sqrt, eps = p.eps;
  const float decay = s.decay, step_size = s.step_size;
  FOR_EACH_ELEMENT(i, n) {
    const VALUE g = LOAD(grads, i) * coef;
    const VALUE mi = LOAD(m, i) * beta1 + one_minus_beta1 * g;
    const VALUE vi = LOAD(v, i) * beta2 + one_minus_beta2 * (g * g);
    const VALUE denom = sqrt(vi) / bc2_sqrt + eps;
    const VALUE pi = LOAD(params, i) * decay - step_size * (mi / denom);
    STORE(params, i, pi);
    STORE16(i, pi);
    STORE(m, i, mi);
    STORE(v, i, vi);
  }
}
