// Matmul micro-benchmark (see matmul_bench.h).
#include "perf/matmul_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"

namespace alpha::perf {

std::vector<MatmulCase> default_matmul_cases() {
  return {
      {"square 1024", 1024, 1024, 1024, ops::Layout::NN},
      {"d12 qkv fwd (BT,3C)=(BT,C)·Wᵀ", 1024, 2304, 768, ops::Layout::NT},
      {"d12 fc fwd (BT,4C)=(BT,C)·Wᵀ", 1024, 3072, 768, ops::Layout::NT},
      {"d12 fc dW (4C,C)=dYᵀ·X", 3072, 768, 1024, ops::Layout::TN},
      {"d12 fc dX (BT,C)=dY·W", 1024, 768, 3072, ops::Layout::NN},
  };
}

static std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Runs `record` iters times in one stream and returns per-dispatch times in ms (GPU timestamps; wall
// time per submit when the device has none).
template <typename Record>
static std::vector<double> time_dispatches(vk::Context& context, int iters, int warmup, Record record) {
  {
    vk::CommandStream warm(context);
    for (int i = 0; i < warmup; ++i) record(warm);
    warm.submit();
  }
  std::vector<double> ms;
  if (context.info().timestamps) {
    vk::CommandStream stream(context, true);
    for (int i = 0; i < iters; ++i) record(stream);
    stream.submit();
    for (const auto& t : stream.timings()) ms.push_back(t.ms);
  } else {
    for (int i = 0; i < iters; ++i) {
      vk::CommandStream stream(context);
      record(stream);
      auto start = std::chrono::steady_clock::now();
      stream.submit();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
  }
  return ms;
}

static MatmulResult summarise(const MatmulCase& shape, std::string kernel, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  MatmulResult r{shape, std::move(kernel)};
  r.median_ms = ms[ms.size() / 2];
  r.min_ms = ms.front();
  r.max_ms = ms.back();
  r.gflops = 2.0 * shape.M * shape.N * shape.K / (r.median_ms * 1e6);
  return r;
}

std::vector<MatmulResult> bench_matmul(vk::Context& context, const std::vector<MatmulCase>& cases,
                                       const MatmulBenchOptions& options) {
  std::vector<MatmulResult> results;
  for (const auto& shape : cases) {
    vk::Arena arena(context);
    const bool ta = shape.layout == ops::Layout::TN, tb = shape.layout == ops::Layout::NT;
    Tensor a = Tensor::empty(arena, ta ? std::vector<int64_t>{shape.K, shape.M} : std::vector<int64_t>{shape.M, shape.K});
    Tensor b = Tensor::empty(arena, tb ? std::vector<int64_t>{shape.N, shape.K} : std::vector<int64_t>{shape.K, shape.N});
    Tensor c = Tensor::empty(arena, {shape.M, shape.N});
    upload(arena, a, random_values(a.numel(), 1));
    upload(arena, b, random_values(b.numel(), 2));

    vk::CommandStream probe(context);
    const ops::MatmulTile tile = options.tile ? *options.tile : ops::default_matmul_tile(probe);
    auto tiled_ms = time_dispatches(context, options.iters, options.warmup, [&](vk::CommandStream& s) {
      ops::matmul(s, a, b, c, shape.layout, nullptr, false, tile);
    });
    MatmulResult tiled = summarise(shape, "tiled " + tile.to_string(), tiled_ms);

    if (options.naive && shape.layout == ops::Layout::NN) {
      std::vector<float> tiled_out = download(arena, c);
      Tensor c_naive = Tensor::empty(arena, {shape.M, shape.N});
      // the naive kernel is slow: a few iterations give a stable median
      auto naive_ms = time_dispatches(context, std::min(options.iters, 3), 1,
                                      [&](vk::CommandStream& s) { ops::matmul_naive(s, a, b, c_naive); });
      std::vector<float> naive_out = download(arena, c_naive);
      double worst = 0;
      for (size_t i = 0; i < naive_out.size(); ++i)
        worst = std::max(worst, std::abs(double(tiled_out[i]) - naive_out[i]) / (std::abs(double(naive_out[i])) + 1.0));
      tiled.max_rel_error = worst;
      results.push_back(tiled);
      results.push_back(summarise(shape, "naive", naive_ms));
    } else {
      results.push_back(tiled);
    }
  }
  return results;
}

}  // namespace alpha::perf
