// The MLP activations for gelu.comp and matvec_texel.comp's epilogue: the includer defines VALUE
// (float or vec4).
//   gelu(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)   (PyTorch approximate='tanh')
//   relu2(x) = max(x, 0)^2,  relu2'(x) = 2 max(x, 0)
// tanh and sech^2 go through e = exp(-2|u|) <= 1, which cannot overflow (GLSL tanh may return NaN for
// large |u| on some drivers).

const float kBeta = 0.7978845608028654;  // sqrt(2/pi)
const float kKappa = 0.044715;

// tanh(u) and sech^2(u) = 1 - tanh^2(u), both accurate for any finite or infinite u.
void tanh_sech2(VALUE u, out VALUE t, out VALUE s2) {
  const VALUE e = exp(-2.0 * abs(u));  // in [0, 1]
  const VALUE inv = 1.0 / (1.0 + e);
  t = sign(u) * (1.0 - e) * inv;
  s2 = 4.0 * e * inv * inv;  // without the cancellation of 1 - t*t
}

VALUE gelu_u(VALUE v) { return kBeta * (v + kKappa * v * v * v); }

VALUE gelu(VALUE v) {
  VALUE t, s2;
  tanh_sech2(gelu_u(v), t, s2);
  return 0.5 * v * (1.0 + t);
}

// gelu'(x) = 0.5 (1 + tanh(u)) + 0.5 x sech^2(u) sqrt(2/pi) (1 + 3 * 0.044715 x^2)
VALUE gelu_grad(VALUE v) {
  VALUE t, s2;
  tanh_sech2(gelu_u(v), t, s2);
  return 0.5 * (1.0 + t) + 0.5 * v * s2 * kBeta * (1.0 + 3.0 * kKappa * v * v);
}

VALUE relu2(VALUE v) {
  const VALUE r = max(v, 0.0);
  return r * r;
}

VALUE relu2_grad(VALUE v) { return 2.0 * max(v, 0.0); }
