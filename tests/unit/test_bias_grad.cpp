// bias_grad against a double-precision column sum, accumulating onto a non-zero gradient.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops/bias_grad.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

TEST_CASE_FIXTURE(GpuFixture, "bias_grad adds the column sums of dy") {
  auto& context = gpu();
  for (auto [N, C] : {std::pair<int64_t, int64_t>{1, 1}, {37, 101}, {300, 65}}) {
    CAPTURE(N);
    CAPTURE(C);
    vk::Arena arena(context);
    Tensor dy = Tensor::empty(arena, {N, C}), dbias = Tensor::empty(arena, {C});
    auto dy_host = random_nonzero(N * C, 3), dbias_host = random_nonzero(C, 4);
    upload(arena, dy, dy_host);
    upload(arena, dbias, dbias_host);
    vk::CommandStream stream(context);
    ops::bias_grad(stream, dy, dbias);
    stream.submit();
    std::vector<double> want(C), tolerance(C);
    for (int64_t c = 0; c < C; ++c) {
      double sum = dbias_host[c], magnitude = std::abs(dbias_host[c]);
      for (int64_t n = 0; n < N; ++n) sum += dy_host[n * C + c], magnitude += std::abs(dy_host[n * C + c]);
      want[c] = sum;
      tolerance[c] = (N + 1) * std::ldexp(1.0, -24) * magnitude;  // fp32 sum of N+1 terms, any order
    }
    check_close("dbias", download(arena, dbias), want, tolerance);
  }
}

TEST_CASE_FIXTURE(GpuFixture, "bias_grad refuses a bias that does not fit") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor dy = Tensor::empty(arena, {4, 5}), dbias = Tensor::empty(arena, {4});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::bias_grad(stream, dy, dbias), doctest::Contains("dbias has 4 elements"), alpha::Error);
}

}  // namespace alpha::test
