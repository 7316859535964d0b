// swiglu_forward and swiglu_backward against a double-precision CPU reference on odd sizes (H odd:
// the storage-buffer kernels; H a multiple of 4: the texel kernels on CPU devices), random non-zero
// inputs with gates swept over [-50, 50] (where a naive sigmoid's exp overflows), and the shape and
// overlap errors.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <string>

#include "engine/ops/swiglu.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

namespace {

double sigmoid(double g) {
  return 1.0 / (1.0 + std::exp(-g));
}

// The relative error of the kernel's sigmoid: exp(-|g|) is allowed 3 + 2|g| ulps by the Vulkan
// spec, then a division and a multiply; (2e-6 + 5e-7 |g|) is that bound (2^-23 ≈ 1.2e-7 per ulp)
// with ~2x to spare. Every tolerance below is this times the magnitude of the terms it multiplies.
double relative_tolerance(double g) {
  return 2e-6 + 5e-7 * std::abs(g);
}

struct SwigluSize {
  int64_t N, H;
  const char* path;  // which kernel the size takes on a CPU device
};

}  // namespace

// out = silu(g)·u; d gate = dout·u·s·(1 + g·(1 - s)), d up = dout·g·s with s = sigmoid(g), over
// x (N, 2H) = [gate | up] rows. The first row's gates sweep [-50, 50]; everything else is random
// in ±[0.05, 1] times 6 (the curved part of silu), never 0. dx starts as garbage so that the
// backward must overwrite both halves.
TEST_CASE_FIXTURE(GpuFixture, "swiglu forward and backward match double precision at odd sizes") {
  for (const SwigluSize size :
       {SwigluSize{37, 45, "storage buffers"}, SwigluSize{5, 3, "storage buffers"},
        SwigluSize{67, 96, "texels on CPU devices"}}) {
    const int64_t N = size.N, H = size.H;
    CAPTURE(N);
    CAPTURE(H);
    const std::string path = size.path;
    CAPTURE(path);
    auto x_host = random_nonzero(N * 2 * H, 31);
    for (auto& v : x_host) v *= 6.0f;
    for (int64_t c = 0; c < H; ++c)
      x_host[c] = H > 1 ? -50.0f + 100.0f * float(c) / float(H - 1) : 1.0f;
    const auto dout_host = random_nonzero(N * H, 32);

    auto& context = gpu();
    vk::Arena arena(context);
    Tensor x = Tensor::empty(arena, {N, 2 * H}), out = Tensor::empty(arena, {N, H});
    Tensor dout = Tensor::empty(arena, {N, H}), dx = Tensor::empty(arena, {N, 2 * H});
    upload(arena, x, x_host);
    upload(arena, dout, dout_host);
    upload(arena, dx, random_nonzero(N * 2 * H, 33));  // must be overwritten, not accumulated
    vk::CommandStream stream(context);
    ops::swiglu_forward(stream, x, out);
    ops::swiglu_backward(stream, x, dout, dx);
    stream.submit();
    const auto got_out = download(arena, out), got_dx = download(arena, dx);

    std::vector<double> want_out(N * H), tol_out(N * H), want_dx(N * 2 * H), tol_dx(N * 2 * H);
    for (int64_t r = 0; r < N; ++r)
      for (int64_t c = 0; c < H; ++c) {
        const int64_t i = r * H + c, gate = r * 2 * H + c, up = gate + H;
        const double g = x_host[gate], u = x_host[up], d = dout_host[i], s = sigmoid(g),
                     rel = relative_tolerance(g);
        want_out[i] = g * s * u;
        tol_out[i] = rel * std::abs(want_out[i]) + 1e-37;
        want_dx[gate] = d * u * s * (1.0 + g * (1.0 - s));
        tol_dx[gate] = rel * std::abs(d * u) * s * (1.0 + std::abs(g) * (1.0 - s)) +
                       1e-37;  // no cancellation credit
        want_dx[up] = d * g * s;
        tol_dx[up] = rel * std::abs(want_dx[up]) + 1e-37;
      }
    check_close("swiglu out", got_out, want_out, tol_out);
    check_close("swiglu dx", got_dx, want_dx, tol_dx);
  }
}

TEST_CASE("swiglu's reference gradient agrees with central finite differences") {
  // Pure CPU: checks the derivative the device test relies on, d/dg silu(g) = s(1 + g(1 - s)).
  // h = 1e-5 in double: truncation ~h²·|silu'''| and cancellation ~1e-16/h, both far below 1e-8.
  for (double g = -8.0; g <= 8.0; g += 0.37) {
    const double h = 1e-5, s = sigmoid(g);
    const double numeric = ((g + h) * sigmoid(g + h) - (g - h) * sigmoid(g - h)) / (2 * h);
    CAPTURE(g);
    CHECK(std::abs(numeric - s * (1.0 + g * (1.0 - s))) < 1e-8);
  }
}

TEST_CASE_FIXTURE(GpuFixture,
                  "swiglu refuses shapes that are not (N, 2H) and (N, H), and overlapping dx") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor x = Tensor::empty(arena, {6, 10}), half = Tensor::empty(arena, {6, 5}),
         odd = Tensor::empty(arena, {6, 4});
  Tensor rows = Tensor::empty(arena, {5, 5}), dx = Tensor::empty(arena, {6, 10});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::swiglu_forward(stream, x, odd), doctest::Contains("swiglu_forward"),
                       alpha::Error);
  CHECK_THROWS_AS(ops::swiglu_forward(stream, x, rows), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::swiglu_backward(stream, x, half, half),
                       doctest::Contains("swiglu_backward"), alpha::Error);
  CHECK_THROWS_AS(ops::swiglu_backward(stream, x, odd, dx), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::swiglu_backward(stream, x, half, x),
                       doctest::Contains("must not overlap"), alpha::Error);
  CHECK_NOTHROW(ops::swiglu_forward(stream, x, half));  // the shapes that fit
  CHECK_NOTHROW(ops::swiglu_backward(stream, x, half, dx));
  stream.submit();
}

}  // namespace alpha::test
