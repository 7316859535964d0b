// `alpha bench`: kernel benchmarks on the chosen device. For now the matmul table (tiled vs naive,
// GFLOP/s from GPU timestamps); the full training-step and PyTorch comparison come with issue 6.
#include <fmt/format.h>

#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "perf/matmul_bench.h"

namespace alpha::cli {

namespace {
struct BenchOptions {
  int iters = 10;
  int warmup = 2;
  std::string ops = "matmul";
  std::string tile;
  int size = 0;  // 0: the default shape list
  bool naive = true;
};
}  // namespace

static void run_bench(const BenchOptions& o) {
  if (o.iters < 1) fail("--iters must be at least 1");
  if (o.warmup < 0) fail("--warmup must not be negative");
  if (o.ops != "matmul") fail("--ops={}: only 'matmul' exists so far", o.ops);
  vk::Context context(context_options());
  const auto& info = context.info();
  fmt::print("device: {} ({}, {} {})\n", info.name, info.type_name(), info.driver_name, info.driver_info);
  perf::MatmulBenchOptions options;
  options.iters = o.iters;
  options.warmup = o.warmup;
  options.naive = o.naive;
  if (!o.tile.empty()) options.tile = ops::parse_matmul_tile(o.tile);
  auto cases = o.size > 0 ? std::vector<perf::MatmulCase>{{fmt::format("square {}", o.size), o.size, o.size, o.size}}
                          : perf::default_matmul_cases();
  fmt::print("{:<34} {:>6} {:>6} {:>6}  {:<24} {:>10} {:>10} {:>9}  {}\n", "matmul", "M", "N", "K", "kernel",
             "median ms", "spread ms", "GFLOP/s", "check");
  for (const auto& r : perf::bench_matmul(context, cases, options)) {
    std::string check = r.max_rel_error < 0 ? "" : fmt::format("max rel err {:.1e} vs naive", r.max_rel_error);
    fmt::print("{:<34} {:>6} {:>6} {:>6}  {:<24} {:>10.3f} {:>10.3f} {:>9.2f}  {}\n", r.shape.name, r.shape.M,
               r.shape.N, r.shape.K, r.kernel, r.median_ms, r.max_ms - r.min_ms, r.gflops, check);
    std::fflush(stdout);
  }
}

void add_bench_command(CLI::App& app) {
  static BenchOptions o;
  auto* cmd = app.add_subcommand("bench", "Benchmark kernels on the chosen device (GPU timestamps, median)");
  cmd->add_option("--iters", o.iters, "Timed iterations per kernel")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed iterations first")->capture_default_str();
  cmd->add_option("--ops", o.ops, "Which kernels (matmul)")->capture_default_str();
  cmd->add_option("--size", o.size, "One square matmul of this size instead of the default shapes");
  cmd->add_option("--tile", o.tile, "Matmul tile BMxBNxBKxTMxTN instead of the device default");
  cmd->add_flag("!--no-naive", o.naive, "Skip the naive baseline kernel");
  cmd->callback([] { run_bench(o); });
}

}  // namespace alpha::cli
