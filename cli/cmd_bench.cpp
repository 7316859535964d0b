// `alpha bench`: benchmarks on the chosen device. The matmul table (tiled vs naive, GFLOP/s from GPU
// timestamps) and the training step (ms/step, tokens/s), optionally next to PyTorch doing the
// identical step (--vs-torch). The full kernel table, MFU and history come with issue 6.
#include <fmt/format.h>

#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "perf/matmul_bench.h"
#include "perf/train_bench.h"

namespace alpha::cli {

namespace {
struct BenchOptions {
  int iters = 10;
  int warmup = 2;
  std::string ops = "matmul,train";
  std::string tile;
  int size = 0;  // 0: the default shape list
  bool naive = true;
  std::string models = "d2";
  int batch = 8;
  int seq = 256;
  int vocab = 0;  // 0: 4096 for small presets, the preset's own for d12+
  bool vs_torch = false;
};

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream stream(list);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}
}  // namespace

static void bench_matmul(vk::Context& context, const BenchOptions& o) {
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

static void bench_train(vk::Context& context, const BenchOptions& o) {
  fmt::print("\n{:<6} {:>5} {:>5} {:>6}  {:>10} {:>10} {:>11}  {:>14} {:>13}  {}\n", "train", "B", "T", "V", "ms/step",
             "spread ms", "tokens/s", "torch ms/step", "torch tok/s", "alpha/torch speed");
  for (const auto& name : split(o.models)) {
    gpt::GptConfig config = gpt::GptConfig::preset(name);
    if (o.vocab > 0) config.vocab_size = o.vocab;
    else if (config.n_layer < 12) config.vocab_size = 4096;
    config.seq_len = std::max(config.seq_len, o.seq);
    auto r = perf::bench_train_step(context, name, config, o.batch, o.seq, o.iters, o.warmup);
    std::string torch_ms = "-", torch_tps = "-", ratio = "";
    if (o.vs_torch) {
      if (auto t = perf::torch_train_step(config, o.batch, o.seq, std::min(o.iters, 5))) {
        torch_ms = fmt::format("{:.1f}", t->ms_per_step);
        torch_tps = fmt::format("{:.0f}", t->tokens_per_s);
        ratio = fmt::format("{:.2f}x (torch {} thread{})", t->ms_per_step / r.ms_per_step, t->threads,
                            t->threads > 1 ? "s" : "");
      }
    }
    fmt::print("{:<6} {:>5} {:>5} {:>6}  {:>10.1f} {:>10.1f} {:>11.0f}  {:>14} {:>13}  {}\n", name, o.batch, o.seq,
               config.vocab_size, r.ms_per_step, r.spread_ms, r.tokens_per_s, torch_ms, torch_tps, ratio);
    std::string memory;
    for (const auto& group : r.memory) memory += fmt::format("{}{} {:.1f} MiB", memory.empty() ? "" : ", ", group.name, group.bytes / 1048576.0);
    fmt::print("       memory: {}\n", memory);
    if (!r.kernel_ms.empty()) {
      double total = 0;
      for (const auto& [kernel, ms] : r.kernel_ms) total += ms;
      std::string top;
      for (size_t i = 0; i < std::min<size_t>(6, r.kernel_ms.size()); ++i)
        top += fmt::format("{}{} {:.0f}%", i ? ", " : "", r.kernel_ms[i].first, 100 * r.kernel_ms[i].second / total);
      fmt::print("       GPU time by kernel ({} dispatches, {} barriers, {:.1f} ms): {}\n", r.dispatches, r.barriers,
                 total, top);
    }
    std::fflush(stdout);
  }
}

static void run_bench(const BenchOptions& o) {
  if (o.iters < 1) fail("--iters must be at least 1");
  if (o.warmup < 0) fail("--warmup must not be negative");
  auto ops = split(o.ops);
  for (const auto& op : ops)
    if (op != "matmul" && op != "train") fail("--ops={}: unknown op '{}' (known: matmul, train)", o.ops, op);
  vk::Context context(context_options());
  const auto& info = context.info();
  fmt::print("device: {} ({}, {} {})\n", info.name, info.type_name(), info.driver_name, info.driver_info);
  for (const auto& op : ops) {
    if (op == "matmul") bench_matmul(context, o);
    if (op == "train") bench_train(context, o);
  }
}

void add_bench_command(CLI::App& app) {
  static BenchOptions o;
  auto* cmd = app.add_subcommand("bench", "Benchmark kernels and training steps on the chosen device");
  cmd->add_option("--iters", o.iters, "Timed iterations per kernel or step")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed iterations first")->capture_default_str();
  cmd->add_option("--ops", o.ops, "What to run: matmul, train (comma-separated)")->capture_default_str();
  cmd->add_option("--size", o.size, "One square matmul of this size instead of the default shapes");
  cmd->add_option("--tile", o.tile, "Matmul tile BMxBNxBKxTMxTN instead of the device default");
  cmd->add_flag("!--no-naive", o.naive, "Skip the naive baseline kernel");
  cmd->add_option("--model", o.models, "Model presets for the training step (comma-separated, e.g. d2,d6)")
      ->capture_default_str();
  cmd->add_option("--batch", o.batch, "Batch size for the training step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--seq", o.seq, "Sequence length for the training step")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--vocab", o.vocab, "Vocabulary size (default 4096 below d12, else the preset's)");
  cmd->add_flag("--vs-torch", o.vs_torch, "Also time PyTorch (CPU) doing the identical training step");
  cmd->callback([] { run_bench(o); });
}

}  // namespace alpha::cli
