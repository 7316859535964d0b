// LAB (scratch, not shipped): times experimental shader variants on the default device.
// Usage: kernel_lab matmul VARIANT M N K [spec constants...]
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/ops/matmul.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "engine/vk/context.h"
#include "perf/kernel_timer.h"

using namespace alpha;

struct Push3 {
  uint32_t M, N, K;
};

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) ==
                      "dispatch") {  // dispatch COUNT GROUPS [img|ssbo]: fixed cost per dispatch
    const int count = std::atoi(argv[2]);
    const uint32_t groups = std::atoi(argv[3]);
    vk::Context context;
    vk::Arena arena(context);
    Tensor a = Tensor::empty(arena, {4 * 16384 + 64 * int64_t(groups)}),
           c = Tensor::empty(arena, {8 * int64_t(groups)});
    const bool texel = argc <= 4 || std::string(argv[4]) != "ssbo";
    const auto& pipe = context.pipelines().get({texel ? "lab_micro_img4" : "lab_micro_ssbo4",
                                                3,
                                                sizeof(Push3),
                                                {0, 1, 0, 1},
                                                texel ? 0b011u : 0u});
    Push3 push{0, 0, 1};
    auto bind = [&](const Tensor& t) {
      return texel ? vk::reads_texels(t.slice, VK_FORMAT_R32G32B32A32_SFLOAT) : vk::reads(t.slice);
    };
    auto record = [&](vk::CommandStream& s) {
      for (int i = 0; i < count; ++i)  // each writes c: a barrier between every two
        s.dispatch(pipe, {bind(a), bind(a), vk::writes(c.slice)}, push, {groups});
    };
    auto t = perf::time_iterations(context, 9, 1, record, 3000);
    fmt::print("dispatch x{} groups {}: {:.3f} ms, {:.1f} us per dispatch\n", count, groups,
               t.median_ms, t.median_ms * 1e3 / count);
    return 0;
  }
  if (argc > 1 && std::string(argv[1]) == "copy") {  // copy KIND MIB U SPAN: the streaming ceiling
    const std::string kind = argv[2];
    const uint32_t n4 = uint32_t(std::atoi(argv[3])) * (1u << 20) / 16;
    std::vector<uint32_t> consts{uint32_t(std::atoi(argv[4])), uint32_t(std::atoi(argv[5]))};
    vk::Context context;
    vk::Arena arena(context);
    Tensor a = Tensor::empty(arena, {int64_t(n4) * 4}), c = Tensor::empty(arena, {int64_t(n4) * 4});
    const bool texel = kind == "img4";
    const uint32_t mask = kind == "img4" ? 0b11u : kind == "img4ssbo4" ? 0b01u : 0u;
    const auto& pipe =
        context.pipelines().get({"lab_copy_" + kind, 2, sizeof(Push3), consts, mask});
    Push3 push{0, 0, n4};
    auto record = [&](vk::CommandStream& s) {
      if (texel)
        s.dispatch(pipe,
                   {vk::reads_texels(a.slice, VK_FORMAT_R32G32B32A32_SFLOAT),
                    vk::writes_texels(c.slice, VK_FORMAT_R32G32B32A32_SFLOAT)},
                   push, {n4 / consts[1]});
      else if (mask)
        s.dispatch(pipe,
                   {vk::reads_texels(a.slice, VK_FORMAT_R32G32B32A32_SFLOAT), vk::writes(c.slice)},
                   push, {n4 / consts[1]});
      else
        s.dispatch(pipe, {vk::reads(a.slice), vk::writes(c.slice)}, push, {n4 / consts[1]});
    };
    auto t = perf::time_iterations(context, 9, 1, record, 3000);
    fmt::print("copy {} {} MiB U {} SPAN {}: {:.2f} ms, {:.2f} GB/s (read + write)\n", kind,
               argv[3], consts[0], consts[1], t.median_ms, 2.0 * n4 * 16 / t.median_ms / 1e6);
    return 0;
  }
  if (argc > 1 && std::string(argv[1]) == "micro") {  // micro NL NF NS ITERS GROUPS NA KIND
    std::vector<uint32_t> consts{uint32_t(std::atoi(argv[2])), uint32_t(std::atoi(argv[3])),
                                 uint32_t(std::atoi(argv[4])), uint32_t(std::atoi(argv[7]))};
    const uint32_t iters = std::atoi(argv[5]), groups = std::atoi(argv[6]);
    vk::Context context;
    vk::Arena arena(context);
    const uint32_t NL = consts[0];
    Tensor a = Tensor::empty(arena, {4 * (16384 + 8 * NL + int64_t(groups) * 8)}),
           c = Tensor::empty(arena, {int64_t(groups) * 8});
    const std::string kind = argc > 8 ? argv[8] : "img4";
    const bool texel = kind.rfind("img", 0) == 0;
    const VkFormat format = kind == "img1" ? VK_FORMAT_R32_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
    const auto& pipe = context.pipelines().get(
        {"lab_micro_" + kind, 3, sizeof(Push3), consts, texel ? 0b011u : 0u});
    auto bind = [&](const Tensor& t) {
      return texel ? vk::reads_texels(t.slice.sub(0, t.bytes()), format) : vk::reads(t.slice);
    };
    Push3 push{0, 0, iters};
    auto record = [&](vk::CommandStream& s) {
      s.dispatch(pipe, {bind(a), bind(a), vk::writes(c.slice)}, push, {groups});
    };
    auto t = perf::time_iterations(context, 9, 1, record, 3000);
    const double per_iter_ns = t.median_ms * 1e6 / (double(iters) * groups / 2);  // 2 threads
    fmt::print(
        "micro {} NA {} NL {} NF {} NS {}: {:.2f} ms, {:.2f} ns per iteration per thread ({:.1f} "
        "cycles at 3.7 GHz)\n",
        kind, consts[3], consts[0], consts[1], consts[2], t.median_ms, per_iter_ns,
        per_iter_ns * 3.7);
    return 0;
  }
  if (argc > 1 &&
      std::string(argv[1]) == "engine") {  // engine LAYOUT M N K: ops::matmul as the engine runs it
    const std::string lay = argv[2];
    const int64_t M = std::atoll(argv[3]), N = std::atoll(argv[4]), K = std::atoll(argv[5]);
    const ops::Layout layout = lay == "NN"   ? ops::Layout::NN
                               : lay == "NT" ? ops::Layout::NT
                                             : ops::Layout::TN;
    vk::Context context;
    vk::Arena arena(context);
    Tensor a =
        layout == ops::Layout::TN ? Tensor::empty(arena, {K, M}) : Tensor::empty(arena, {M, K});
    Tensor b =
        layout == ops::Layout::NT ? Tensor::empty(arena, {N, K}) : Tensor::empty(arena, {K, N});
    Tensor c = Tensor::empty(arena, {M, N});
    upload(arena, a, perf::random_values(a.numel(), 1));
    upload(arena, b, perf::random_values(b.numel(), 2));
    auto t = perf::time_iterations(
        context, 7, 1, [&](vk::CommandStream& s) { ops::matmul(s, a, b, c, layout); }, 4000);
    fmt::print("engine {} {}x{}x{}: {:.2f} ms (spread {:.2f}), {:.1f} GFLOP/s\n", lay, M, N, K,
               t.median_ms, t.max_ms - t.min_ms, 2.0 * M * N * K / t.median_ms / 1e6);
    return 0;
  }
  if (argc < 6) {
    fmt::print(
        "usage: kernel_lab matmul VARIANT M N K [consts..] [--groups-x-div X --groups-y-div Y]\n");
    return 2;
  }
  std::string variant = argv[2];
  const uint32_t M = std::atoi(argv[3]), N = std::atoi(argv[4]), K = std::atoi(argv[5]);
  std::vector<uint32_t> consts;
  for (int i = 6; i < argc; ++i) consts.push_back(std::atoi(argv[i]));
  // consts: R CB BM BN (last two: workgroup tile, for group counts)
  const uint32_t BM = consts.at(2), BN = consts.at(3);
  const uint32_t KU = consts.size() > 4 ? consts[4] : 1;
  consts.resize(2);
  consts.push_back(KU);
  vk::Context context;
  vk::Arena arena(context);
  Tensor a = Tensor::empty(arena, {M, K}), b = Tensor::empty(arena, {K, N}),
         c = Tensor::empty(arena, {M, N});
  auto av = perf::random_values(a.numel(), 1), bv = perf::random_values(b.numel(), 2);
  upload(arena, a, av);
  upload(arena, b, bv);
  const auto& pipe = context.pipelines().get({variant, 3, sizeof(Push3), consts, 0b011});
  Push3 push{M, N, K};
  vk::Groups groups{(N + BN - 1) / BN, (M + BM - 1) / BM};
  auto record = [&](vk::CommandStream& s) {
    s.dispatch(pipe,
               {vk::reads_texels(a.slice.sub(0, a.bytes()), VK_FORMAT_R32G32B32A32_SFLOAT),
                vk::reads_texels(b.slice.sub(0, b.bytes()), VK_FORMAT_R32G32B32A32_SFLOAT),
                vk::writes(c.slice)},
               push, groups);
  };
  if (std::getenv("LAB_SPIN")) {  // for jit_dump.sh: keep the kernel running
    for (int i = 0; i < 1000; ++i) {
      vk::CommandStream s(context);
      record(s);
      s.submit();
    }
  }
  {
    vk::CommandStream s(context);
    record(s);
    s.submit();
  }
  auto cv = download(arena, c);
  double worst = 0;
  for (uint32_t i = 0; i < M; i += std::max<uint32_t>(1, M / 37))
    for (uint32_t j = 0; j < N; ++j) {
      double ref = 0;
      for (uint32_t k = 0; k < K; ++k) ref += double(av[i * K + k]) * bv[k * N + j];
      worst = std::max(worst, std::abs(ref - cv[i * N + j]) / (1 + std::abs(ref)));
    }
  auto t = perf::time_iterations(context, 10, 2, record, 3000);
  fmt::print("{} {}x{}x{} consts {} {}: {:.2f} ms, {:.1f} GFLOP/s, worst rel err {:.2e}\n", variant,
             M, N, K, argc > 6 ? argv[6] : "", argc > 7 ? argv[7] : "", t.median_ms,
             2.0 * M * N * K / t.median_ms / 1e6, worst);
  return worst < 1e-4 ? 0 : 1;
}
