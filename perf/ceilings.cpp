// Device ceilings: a large copy and the best square matmul (see ceilings.h).
#include "perf/ceilings.h"

#include <algorithm>

#include "engine/ops/elementwise.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"

namespace alpha::perf {

double Ceilings::fraction(const KernelWork& work, double ms) const {
  const double ceiling = work.bound == Bound::Compute ? matmul.gflops : copy_gbps;
  return ceiling > 0 ? kernel_rate(work, ms) / ceiling : 0.0;
}

static bool cpu_device(const vk::DeviceInfo& info) {
  return info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

int64_t ceiling_copy_floats(const vk::DeviceInfo& info) {
  // Larger than any cache, and within one binding.
  const uint64_t bytes = std::min<uint64_t>(cpu_device(info) ? 64ull << 20 : 256ull << 20,
                                            info.max_storage_buffer_range);
  return int64_t(bytes / 4);
}

std::vector<int64_t> ceiling_matmul_sizes(const vk::DeviceInfo& info) {
  return cpu_device(info) ? std::vector<int64_t>{1024} : std::vector<int64_t>{2048, 4096};
}

Ceilings measure_ceilings(vk::Context& context, int iters, int warmup, double budget_ms) {
  Ceilings c;
  c.copy_floats = ceiling_copy_floats(context.info());
  {
    vk::Arena arena(context, VkDeviceSize(2 * 4 * c.copy_floats));  // one block: src and dst
    Tensor src = Tensor::empty(arena, {c.copy_floats}), dst = Tensor::empty(arena, {c.copy_floats});
    upload(arena, src, random_values(c.copy_floats, 3));
    c.copy = time_iterations(
        context, iters, warmup, [&](vk::CommandStream& s) { ops::copy(s, src, dst); }, budget_ms);
    c.copy_gbps = kernel_rate(copy_work(c.copy_floats), c.copy.median_ms);
  }
  std::vector<MatmulCase> squares;
  for (int64_t n : ceiling_matmul_sizes(context.info()))
    squares.push_back(square_matmul_case(n, false));
  MatmulBenchOptions options;
  options.iters = iters;
  options.warmup = warmup;
  options.budget_ms = budget_ms;
  options.naive = false;
  for (const auto& r : bench_matmul(context, squares, options))
    if (r.gflops > c.matmul.gflops) c.matmul = r;
  return c;
}

}  // namespace alpha::perf
