// Matmul micro-benchmark (see matmul_bench.h).
#include "perf/matmul_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "perf/kernel_costs.h"
#include "perf/kernel_timer.h"

namespace alpha::perf {

const char* layout_name(ops::Layout layout) {
  switch (layout) {
    case ops::Layout::NN:
      return "NN";
    case ops::Layout::NT:
      return "NT";
    case ops::Layout::TN:
      return "TN";
  }
  return "?";
}

MatmulCase square_matmul_case(int64_t n, bool naive) {
  return {fmt::format("square {}", n), n, n, n, ops::Layout::NN, naive};
}

std::vector<MatmulCase> gpt_matmul_cases(const std::string& model, const gpt::GptConfig& config,
                                         int64_t tokens) {
  const int64_t C = config.n_embd, F = config.mlp_fc_width();
  // c_fc's output width F: 4C, or 2H for swiglu's gate and up (H = GptConfig::mlp_hidden())
  const std::string f = config.mlp == gpt::Mlp::swiglu ? "2H" : "4C";
  return {
      {model + " qkv fwd (BT,3C)=(BT,C)·Wᵀ", tokens, 3 * C, C, ops::Layout::NT},
      {model + " fc fwd (BT," + f + ")=(BT,C)·Wᵀ", tokens, F, C, ops::Layout::NT},
      {model + " fc dW (" + f + ",C)=dYᵀ·X", F, C, tokens, ops::Layout::TN},
      {model + " fc dX (BT,C)=dY·W", tokens, C, F, ops::Layout::NN},
  };
}

static MatmulResult summarise(const MatmulCase& shape, std::string kernel, const Timing& t) {
  MatmulResult r{shape, std::move(kernel), t.median_ms, t.min_ms, t.max_ms, t.iters};
  r.gflops = kernel_rate(matmul_work(shape.M, shape.N, shape.K), r.median_ms);
  return r;
}

std::vector<MatmulResult> bench_matmul(vk::Context& context, const std::vector<MatmulCase>& cases,
                                       const MatmulBenchOptions& options) {
  std::vector<MatmulResult> results;
  for (const auto& shape : cases) {
    vk::Arena arena(context);
    const bool ta = shape.layout == ops::Layout::TN, tb = shape.layout == ops::Layout::NT;
    Tensor a = Tensor::empty(arena, ta ? std::vector<int64_t>{shape.K, shape.M}
                                       : std::vector<int64_t>{shape.M, shape.K});
    Tensor b = Tensor::empty(arena, tb ? std::vector<int64_t>{shape.N, shape.K}
                                       : std::vector<int64_t>{shape.K, shape.N});
    Tensor c = Tensor::empty(arena, {shape.M, shape.N});
    upload(arena, a, random_values(a.numel(), 1));
    upload(arena, b, random_values(b.numel(), 2));

    vk::CommandStream probe(context);
    // No --tile: whatever matmul() picks for the shape (the texel kernel on CPU devices where it
    // fits).
    const ops::MatmulTile tile = options.tile ? *options.tile : ops::default_matmul_tile(probe);
    const bool texel = !options.tile &&
                       ops::uses_texel_matmul(probe, ops::MatrixView::of(a), ops::MatrixView::of(b),
                                              shape.layout, shape.M, shape.N, shape.K);
    auto tiled_time = time_iterations(
        context, options.iters, options.warmup,
        [&](vk::CommandStream& s) {
          ops::matmul(s, a, b, c, shape.layout, nullptr, false, options.tile);
        },
        options.budget_ms);
    MatmulResult tiled =
        summarise(shape, texel ? std::string("texel") : "tiled " + tile.to_string(), tiled_time);

    if (options.naive && shape.naive && shape.layout == ops::Layout::NN) {
      std::vector<float> tiled_out = download(arena, c);
      Tensor c_naive = Tensor::empty(arena, {shape.M, shape.N});
      // the naive kernel is slow: a few iterations give a stable median
      auto naive_time = time_iterations(
          context, std::min(options.iters, 3), 1,
          [&](vk::CommandStream& s) { ops::matmul_naive(s, a, b, c_naive); }, options.budget_ms);
      std::vector<float> naive_out = download(arena, c_naive);
      double worst = 0;
      for (size_t i = 0; i < naive_out.size(); ++i)
        worst = std::max(worst, std::abs(double(tiled_out[i]) - naive_out[i]) /
                                    (std::abs(double(naive_out[i])) + 1.0));
      tiled.max_rel_error = worst;
      results.push_back(tiled);
      results.push_back(summarise(shape, "naive", naive_time));
    } else {
      results.push_back(tiled);
    }
  }
  return results;
}

}  // namespace alpha::perf
