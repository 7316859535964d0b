// gelu_forward and gelu_backward (tanh approximation) and activation_forward/backward with relu2
// against double-precision CPU references on odd sizes, on x in [-50, 50] (where a naive GLSL tanh
// overflows; relu2 also at exact zeros), in place, and run to run.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/ops/gelu.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

static const double kBeta = std::sqrt(2.0 / M_PI), kKappa = 0.044715;

static double gelu_ref(double x) {
  return 0.5 * x * (1.0 + std::tanh(kBeta * (x + kKappa * x * x * x)));
}

// d/dx of gelu_ref, derived by hand: u = beta (x + kappa x^3), u' = beta (1 + 3 kappa x^2),
// gelu' = 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) u'.
static double gelu_grad_ref(double x) {
  const double t = std::tanh(kBeta * (x + kKappa * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * kBeta * (1.0 + 3.0 * kKappa * x * x);
}

// Tolerance per element: the kernel's tanh goes through exp and one division in fp32 (a few ulps of
// 1, i.e. ~1e-7 absolute in tanh), scaled by |x|/2 in the product, plus rounding of the result
// itself; 5e-7·(1 + |x|) is ~4 ulps of 1 times (1 + |x|), ~5x what lavapipe shows. gelu' has the
// extra factor x·(1 + 3 kappa x^2)·sech^2 <= ~2, so the same form holds with |x| scaled by |dout|.
static double forward_tolerance(double x) {
  return 5e-7 * (1.0 + std::abs(x));
}


// Random O(1) values (37 rows of C = 101) followed by an even sweep of [-50, 50].
static std::vector<float> test_inputs() {
  auto x = random_nonzero(37 * 101, 21);
  for (int i = 0; i <= 1000; ++i) x.push_back(-50.0f + 0.1f * static_cast<float>(i));
  return x;
}

// activation(x) and its gradient times dout (random, non-zero) on the device; dx starts as garbage
// so that the backward must overwrite it.
struct ActivationRun {
  std::vector<float> dout, out, dx;
};
static ActivationRun run_activation(vk::Context& context, ops::Activation act,
                                    const std::vector<float>& x_host) {
  vk::Arena arena(context);
  const auto n = static_cast<int64_t>(x_host.size());
  ActivationRun r;
  r.dout = random_nonzero(n, 22);
  Tensor x = Tensor::empty(arena, {n}), out = Tensor::empty(arena, {n});
  Tensor dout = Tensor::empty(arena, {n}), dx = Tensor::empty(arena, {n});
  upload(arena, x, x_host);
  upload(arena, dout, r.dout);
  upload(arena, dx, random_nonzero(n, 23));  // must be overwritten, not accumulated
  vk::CommandStream stream(context);
  ops::activation_forward(stream, act, x, out);
  ops::activation_backward(stream, act, x, dout, dx);
  stream.submit();
  r.out = download(arena, out);
  r.dx = download(arena, dx);
  return r;
}

TEST_CASE_FIXTURE(GpuFixture,
                  "gelu forward and backward match double precision, also for |x| up to 50") {
  // 4738 values, then 4736 (a multiple of 4: the texel kernels on CPU devices)
  for (const int64_t drop : {0, 2}) {
    auto x_host = test_inputs();
    x_host.resize(x_host.size() - drop);
    const auto n = static_cast<int64_t>(x_host.size());
    CAPTURE(n);
    const auto got = run_activation(gpu(), ops::Activation::gelu, x_host);
    const auto& dout_host = got.dout;

    std::vector<double> want_out(n), want_dx(n), tol_out(n), tol_dx(n);
    for (int64_t i = 0; i < n; ++i) {
      want_out[i] = gelu_ref(x_host[i]);
      want_dx[i] = gelu_grad_ref(x_host[i]) * dout_host[i];
      tol_out[i] = forward_tolerance(x_host[i]);
      tol_dx[i] = forward_tolerance(x_host[i]) * std::abs(dout_host[i]);
    }
    check_close("gelu out", got.out, want_out, tol_out);
    check_close("gelu dx", got.dx, want_dx, tol_dx);
  }
}

// relu2(x) = max(x, 0)², relu2'(x) = 2·max(x, 0): one fp32 rounding each (r·r, and 2r·dout
// with 2r exact), so within 2^-24 of the result relative; zero and negative x give exactly 0.
TEST_CASE_FIXTURE(GpuFixture, "relu2 forward and backward match double precision, zeros exactly") {
  // 4738 values, then 4736 (a multiple of 4: the texel kernels on CPU devices), each with exact
  // zeros and signed zeros among the random and swept ones
  for (const int64_t drop : {0, 2}) {
    auto x_host = test_inputs();
    for (size_t i = 0; i < x_host.size(); i += 97) x_host[i] = i % 2 ? -0.0f : 0.0f;
    x_host.resize(x_host.size() - drop);
    const auto n = static_cast<int64_t>(x_host.size());
    CAPTURE(n);
    const auto got = run_activation(gpu(), ops::Activation::relu2, x_host);
    const auto& dout_host = got.dout;

    const double u = std::ldexp(1.0, -24);
    std::vector<double> want_out(n), want_dx(n), tol_out(n), tol_dx(n);
    for (int64_t i = 0; i < n; ++i) {
      const double r = std::max(double(x_host[i]), 0.0);
      want_out[i] = r * r;
      want_dx[i] = 2 * r * dout_host[i];
      tol_out[i] = u * want_out[i] + 1e-30;  // 1e-30: where x <= 0 only an exact 0 passes
      tol_dx[i] = u * std::abs(want_dx[i]) + 1e-30;
    }
    check_close("relu2 out", got.out, want_out, tol_out);
    check_close("relu2 dx", got.dx, want_dx, tol_dx);
  }
}

TEST_CASE("gelu's hand-derived gradient agrees with central finite differences") {
  // Pure CPU: checks the reference the GPU test relies on. h = 1e-5 in double: truncation error
  // ~h^2·|gelu'''| and cancellation ~1e-16/h, both far below 1e-7.
  for (double x = -6.0; x <= 6.0; x += 0.37) {
    const double h = 1e-5, numeric = (gelu_ref(x + h) - gelu_ref(x - h)) / (2 * h);
    CAPTURE(x);
    CHECK(std::abs(numeric - gelu_grad_ref(x)) < 1e-7);
  }
}

TEST_CASE_FIXTURE(
    GpuFixture,
    "activations may write in place (out over x, dx over dout) and repeat bit for bit") {
  for (const auto act : {ops::Activation::gelu, ops::Activation::relu2}) {
    CAPTURE(act == ops::Activation::relu2);
    auto& context = gpu();
    vk::Arena arena(context);
    const int64_t n = 48 * 37;
    const auto x_host = random_nonzero(n, 24), dout_host = random_nonzero(n, 25);
    Tensor x = Tensor::empty(arena, {37, 48}), grad = Tensor::empty(arena, {37, 48});
    Tensor separate = Tensor::empty(arena, {37, 48}), activation = Tensor::empty(arena, {37, 48});
    Tensor activation_in_place = Tensor::empty(arena, {37, 48});
    upload(arena, x, x_host);
    upload(arena, activation_in_place, x_host);
    upload(arena, grad, dout_host);

    vk::CommandStream stream(context);
    ops::activation_backward(stream, act, x, grad, separate);
    ops::activation_backward(stream, act, x, grad, grad);  // in place: grad = act'(x) * grad
    ops::activation_forward(stream, act, x, activation);
    ops::activation_forward(stream, act, activation_in_place, activation_in_place);
    stream.submit();
    const auto y = download(arena, activation), y_in_place = download(arena, activation_in_place);
    CHECK(std::memcmp(y.data(), y_in_place.data(), n * sizeof(float)) == 0);
    const auto in_place = download(arena, grad), expected = download(arena, separate);
    CHECK(std::memcmp(in_place.data(), expected.data(), n * sizeof(float)) == 0);

    upload(arena, grad, dout_host);
    upload(arena, activation_in_place, x_host);
    stream.submit();  // replay: the same inputs give the same bits
    const auto again = download(arena, grad);
    CHECK(std::memcmp(again.data(), in_place.data(), n * sizeof(float)) == 0);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "gelu refuses tensors of different sizes") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor a = Tensor::empty(arena, {10}), b = Tensor::empty(arena, {11});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::gelu_forward(stream, a, b), doctest::Contains("gelu_forward"),
                       alpha::Error);
  CHECK_THROWS_AS(ops::gelu_backward(stream, a, a, b), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::activation_forward(stream, ops::Activation::relu2, a, b),
                       doctest::Contains("relu2_forward"), alpha::Error);
  CHECK_THROWS_AS(ops::activation_backward(stream, ops::Activation::relu2, a, b, a), alpha::Error);
}

}  // namespace alpha::test
