// The device's measured ceilings, taken once per `alpha bench`: memory bandwidth from a large copy
// (the engine's copy kernel) and arithmetic from the best tiled f32 matmul at square sizes. Kernel
// rows are reported as fractions of these, and MFU is training FLOP/s over the matmul ceiling.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/vk/context.h"
#include "perf/kernel_costs.h"
#include "perf/kernel_timer.h"
#include "perf/matmul_bench.h"

namespace alpha::perf {

struct Ceilings {
  int64_t copy_floats = 0;  // floats copied per iteration
  Timing copy;
  double copy_gbps = 0;  // bytes read + written per second, at the median
  MatmulResult matmul;   // the best square matmul
  double matmul_gflops() const { return matmul.gflops; }

  // work done in `ms` as a fraction of the ceiling of its bound.
  double fraction(const KernelWork& work, double ms) const;
};

// Sizes by device class: a 64 MiB copy and 1024³ on a CPU device (lavapipe), 256 MiB (or the
// storage-buffer range) and the best of 2048³ and 4096³ on a GPU.
int64_t ceiling_copy_floats(const vk::DeviceInfo& info);
std::vector<int64_t> ceiling_matmul_sizes(const vk::DeviceInfo& info);

Ceilings measure_ceilings(vk::Context& context, int iters, int warmup, double budget_ms = 0);

}  // namespace alpha::perf
