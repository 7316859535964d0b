// `alpha bench`: benchmarks on the chosen device. The device's ceilings (a large copy, the best
// square matmul), the matmul and kernel tables at the GPT's own shapes (median device time from GPU
// timestamps, GFLOP/s or GB/s, fraction of the ceiling), the training step (ms/step, tokens/s, MFU,
// memory), inference with the KV cache (prefill and decode tokens/s); with --vs-torch PyTorch times
// the identical work first and every row shows both. A JSON report (--json) and the
// perf/history.csv record and regression check (--record, --check).
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "engine/gpt/flops.h"
#include "engine/ops/matmul_tuning.h"
#include "perf/bench_report.h"
#include "perf/matmul_tuning.h"
#include "perf/serve_bench.h"
#include "version.h"

namespace alpha::cli {

namespace {
struct BenchOptions {
  int iters = 10;
  int warmup = 2;
  double row_budget_s = 5;  // timed seconds per kernel row at most (0: no limit)
  std::string ops = "matmul,attention,layernorm,gelu,softmax_xent,adamw,train,infer";
  std::string tile;
  int size = 0;  // 0: the GPT shapes of --shapes
  bool naive = true;
  std::string shapes = "d6,d12";
  std::string models = "d2";
  std::string arch = "gpt2";  // of every model and shape
  std::string mlp;            // over the arch's MLP (gelu, relu2, swiglu); empty: the arch's own
  std::string precision = "fp32";  // of the training step (alpha train --precision)
  int batch = 8;
  int seq = 256;
  int vocab = 0;  // 0: 4096 for small presets, the preset's own for d12+
  bool vs_torch = false;
  std::string json;     // write every result here as one JSON object
  bool record = false;  // append one row per metric to the history CSV
  bool check = false;   // fail when a metric regressed against the history CSV
  bool tune = false;    // time the matmul tile candidates at --shapes and save the winner
};

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream stream(list);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

bool has(const std::vector<std::string>& items, const std::string& item) {
  return std::find(items.begin(), items.end(), item) != items.end();
}

// A preset as the bench runs it: --vocab, else 4096 below d12 (a small model's embedding should not
// dominate), else the preset's own; the position table covers --seq.
gpt::GptConfig bench_config(const std::string& name, const BenchOptions& o) {
  gpt::GptConfig config = gpt::GptConfig::preset(name, o.arch, o.mlp);
  if (o.vocab > 0)
    config.vocab_size = o.vocab;
  else if (config.n_layer < 12)
    config.vocab_size = 4096;
  config.seq_len = std::max(config.seq_len, o.seq);
  config.validate();
  return config;
}

// Everything the selected ops will run, so the torch peer can be asked for the same before it
// starts.
struct BenchWork {
  std::vector<perf::MatmulCase> matmuls;
  std::vector<perf::KernelCase> kernels;
  std::vector<perf::TrainCase> train;
  std::vector<perf::InferCase> infer;
};

BenchWork plan_work(const std::vector<std::string>& ops, const BenchOptions& o) {
  BenchWork work;
  const int64_t tokens = int64_t(o.batch) * o.seq;
  if (has(ops, "matmul")) {
    if (o.size > 0)
      work.matmuls.push_back(perf::square_matmul_case(o.size, true));
    else
      for (const auto& model : split(o.shapes))
        for (auto& c : perf::gpt_matmul_cases(model, bench_config(model, o), tokens))
          work.matmuls.push_back(c);
  }
  for (const auto& group : perf::kernel_groups())
    if (has(ops, group))
      for (const auto& model : split(o.shapes))
        for (auto& c : perf::gpt_kernel_cases(group, model, bench_config(model, o), o.batch, o.seq))
          work.kernels.push_back(c);
  // rows of another architecture than GPT-2's are named e.g. "modern-d6", and with --mlp
  // "gpt2-swiglu-d6" (here and in the history)
  const std::string mlp = o.mlp.empty() ? "" : "-" + o.mlp;
  auto label = [&](const std::string& model) {
    return o.arch == "gpt2" && mlp.empty() ? model : o.arch + mlp + "-" + model;
  };
  if (has(ops, "train"))
    for (const auto& model : split(o.models))  // "d2-fp16": mixed precision
      work.train.push_back({label(model) + (o.precision == "fp32" ? "" : "-" + o.precision),
                            bench_config(model, o), o.batch, o.seq});
  if (has(ops, "infer")) {  // a prefill of a --seq/2-token prompt, then decode steps up to --seq
    const int prompt = std::max(1, o.seq / 2), steps = std::max(1, o.seq - prompt);
    for (const auto& model : split(o.models))
      work.infer.push_back({label(model), bench_config(model, o), prompt, steps});
  }
  return work;
}

double budget_ms(const BenchOptions& o) {
  return 1000 * o.row_budget_s;
}

std::string percent(double fraction) {
  return std::isfinite(fraction) ? fmt::format("{:.1f}%", 100 * fraction) : "-";
}

// Torch's time over alpha's, e.g. "0.31x".
std::string speed_cell(const perf::TorchTiming& t, double alpha_ms) {
  return fmt::format("{:.2f}x", perf::speed_ratio(t.median_ms, alpha_ms));
}

// "torch ms" and "alpha/torch" cells of a row; dashes without a peer.
std::pair<std::string, std::string> torch_cells(const std::optional<perf::TorchTiming>& t,
                                                double alpha_ms) {
  if (!t) return {"-", ""};
  return {fmt::format("{:.3f}", t->median_ms),
          fmt::format("{} ({})", speed_cell(*t, alpha_ms), t->variant)};
}

std::optional<perf::TorchResults> run_peer(const vk::DeviceInfo& info, const BenchWork& work,
                                           const BenchOptions& o) {
  const perf::TorchWork peer{.iters = o.iters,
                             .warmup = o.warmup,
                             .budget_ms = budget_ms(o),
                             .copy_floats = perf::ceiling_copy_floats(info),
                             .matmul_sizes = perf::ceiling_matmul_sizes(info),
                             .matmuls = work.matmuls,
                             .kernels = work.kernels,
                             .train = work.train,
                             .infer = work.infer};
  fmt::print(
      "torch peer: {} times the ceilings, {} matmuls, {} kernels, {} training steps and {} "
      "inference runs first...\n",
      perf::torch_script_path(), work.matmuls.size(), work.kernels.size(), work.train.size(),
      work.infer.size());
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  auto torch = perf::run_torch_peer(peer);
  if (!torch) return torch;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("torch peer: torch {} on {}, {:.0f} s\n", torch->version, torch->device, seconds);
  for (const auto& note : torch->notes) fmt::print("torch peer: {}\n", note);
  return torch;
}

void print_ceilings(const perf::Ceilings& c, const std::optional<perf::TorchResults>& torch) {
  fmt::print(
      "\nceilings: copy {} MiB {:.2f} GB/s (median {:.3f} ms); matmul {} {}: {:.2f} GFLOP/s "
      "(median {:.3f} ms)\n",
      c.copy_floats * 4 / 1048576, c.copy_gbps, c.copy.median_ms, c.matmul.shape.name,
      c.matmul.kernel, c.matmul.gflops, c.matmul.median_ms);
  if (torch && torch->copy_gbps > 0)
    fmt::print(
        "torch:    copy {:.2f} GB/s, matmul {:.2f} GFLOP/s (same sizes; alpha/torch {:.2f}x and "
        "{:.2f}x)\n",
        torch->copy_gbps, torch->matmul_gflops, c.copy_gbps / torch->copy_gbps,
        c.matmul.gflops / torch->matmul_gflops);
  std::fflush(stdout);
}

std::vector<perf::MatmulRow> bench_matmul_table(vk::Context& context, const BenchOptions& o,
                                                const BenchWork& work,
                                                const perf::Ceilings& ceilings,
                                                const std::optional<perf::TorchResults>& torch) {
  perf::MatmulBenchOptions options;
  options.iters = o.iters;
  options.warmup = o.warmup;
  options.budget_ms = budget_ms(o);
  options.naive = o.naive;
  if (!o.tile.empty()) options.tile = ops::parse_matmul_tile(o.tile);
  fmt::print("\n{:<34} {:>6} {:>6} {:>6}  {:<24} {:>5} {:>10} {:>10} {:>9} {:>8}  {:>9}  {}\n",
             "matmul", "M", "N", "K", "kernel", "iters", "median ms", "spread ms", "GFLOP/s",
             "ceiling", "torch ms", "alpha/torch speed");
  std::vector<perf::MatmulRow> rows;
  for (size_t i = 0; i < work.matmuls.size(); ++i) {
    for (const auto& r : perf::bench_matmul(context, {work.matmuls[i]}, options)) {
      perf::MatmulRow row{r, r.gflops / ceilings.matmul_gflops()};
      if (torch && r.kernel != "naive")
        row.torch = torch->matmuls[i];  // the naive kernel has no twin
      const auto [torch_ms, ratio] = torch_cells(row.torch, r.median_ms);
      std::string check =
          r.max_rel_error < 0 ? "" : fmt::format("  max rel err {:.1e} vs naive", r.max_rel_error);
      fmt::print(
          "{:<34} {:>6} {:>6} {:>6}  {:<24} {:>5} {:>10.3f} {:>10.3f} {:>9.2f} {:>8}  {:>9}  "
          "{}{}\n",
          r.shape.name, r.shape.M, r.shape.N, r.shape.K, r.kernel, r.iters, r.median_ms,
          r.max_ms - r.min_ms, r.gflops, percent(row.ceiling_fraction), torch_ms, ratio, check);
      std::fflush(stdout);
      rows.push_back(row);
    }
  }
  return rows;
}

std::vector<perf::KernelRow> bench_kernel_table(vk::Context& context, const BenchOptions& o,
                                                const BenchWork& work,
                                                const perf::Ceilings& ceilings,
                                                const std::optional<perf::TorchResults>& torch) {
  fmt::print("\n{:<19} {:<5} {:<22} {:>5} {:>10} {:>10} {:>16} {:>8}  {:>9}  {}\n", "kernel",
             "model", "shape", "iters", "median ms", "spread ms", "rate", "ceiling", "torch ms",
             "alpha/torch speed");
  std::vector<perf::KernelRow> rows;
  for (size_t i = 0; i < work.kernels.size(); ++i) {
    const auto& k = work.kernels[i];
    perf::KernelRow row{perf::bench_kernel(context, k, o.iters, o.warmup, budget_ms(o))};
    const perf::Timing& t = row.result.timing;
    row.ceiling_fraction = ceilings.fraction(k.work, t.median_ms);
    if (torch) row.torch = torch->kernels[i];
    const auto [torch_ms, ratio] = torch_cells(row.torch, t.median_ms);
    fmt::print("{:<19} {:<5} {:<22} {:>5} {:>10.3f} {:>10.3f} {:>16} {:>8}  {:>9}  {}\n",
               perf::kernel_op_name(k.op), k.model, k.shape, t.iters, t.median_ms,
               t.max_ms - t.min_ms,
               fmt::format("{:.2f} {}", row.result.rate, perf::rate_unit(k.work.bound)),
               percent(row.ceiling_fraction), torch_ms, ratio);
    std::fflush(stdout);
    rows.push_back(row);
  }
  fmt::print(
      "ceiling: GFLOP/s over the matmul ceiling (attention) or GB/s over the copy ceiling (the "
      "rest); attention FLOPs count the causal half (perf/kernel_costs.h)\n");
  return rows;
}

std::vector<perf::TrainRow> bench_train_table(vk::Context& context, const BenchOptions& o,
                                              const BenchWork& work, const perf::Ceilings& ceilings,
                                              const std::optional<perf::TorchResults>& torch) {
  fmt::print("\n{:<6} {:>5} {:>5} {:>6}  {:>10} {:>10} {:>11} {:>6}  {:>14} {:>13}  {}\n", "train",
             "B", "T", "V", "ms/step", "spread ms", "tokens/s", "MFU", "torch ms/step",
             "torch tok/s", "alpha/torch speed");
  std::vector<perf::TrainRow> rows;
  for (size_t i = 0; i < work.train.size(); ++i) {
    const auto& c = work.train[i];
    auto r = perf::bench_train_step(context, c.model, c.config, c.batch, c.seq, o.iters, o.warmup,
                                    gpt::resolve_precision(o.precision, context));
    perf::TrainRow row{
        r, c.config,
        gpt::mfu(r.flops_per_step / (r.ms_per_step / 1000.0), ceilings.matmul_gflops() * 1e9)};
    std::string torch_ms = "-", torch_tps = "-", ratio;
    if (torch) {
      const auto& t = torch->train[i];
      row.torch = t;
      torch_ms = fmt::format("{:.1f}", t.ms_per_step);
      torch_tps = fmt::format("{:.0f}", t.tokens_per_s);
      ratio =
          fmt::format("{:.2f}x ({})", perf::speed_ratio(t.ms_per_step, r.ms_per_step), t.variant);
    }
    fmt::print("{:<6} {:>5} {:>5} {:>6}  {:>10.1f} {:>10.1f} {:>11.0f} {:>6}  {:>14} {:>13}  {}\n",
               c.model, c.batch, c.seq, c.config.vocab_size, r.ms_per_step, r.spread_ms,
               r.tokens_per_s, percent(row.mfu), torch_ms, torch_tps, ratio);
    std::string memory;
    uint64_t total = 0;
    for (const auto& group : r.memory) {
      memory += fmt::format(", {} {:.1f} MiB", group.name, group.bytes / 1048576.0);
      total += group.bytes;
    }
    fmt::print("       memory: {:.1f} MiB in all{}\n", total / 1048576.0, memory);
    fmt::print("       host CPU per step: {:.3f} ms replayed, {:.3f} ms recorded anew\n",
               r.host_ms_replayed, r.host_ms_recorded);
    if (!r.kernel_ms.empty()) {
      double sum = 0;
      for (const auto& [kernel, ms] : r.kernel_ms) sum += ms;
      std::string top;
      for (size_t k = 0; k < std::min<size_t>(6, r.kernel_ms.size()); ++k)
        top += fmt::format("{}{} {:.0f}%", k ? ", " : "", r.kernel_ms[k].first,
                           100 * r.kernel_ms[k].second / sum);
      fmt::print("       GPU time by kernel ({} dispatches, {} barriers, {:.1f} ms): {}\n",
                 r.dispatches, r.barriers, sum, top);
    }
    std::fflush(stdout);
    rows.push_back(std::move(row));
  }
  fmt::print(
      "MFU: training FLOP/s (6·N + 12·L·H·Q·T per token, PaLM/nanoGPT) over the matmul ceiling, "
      "{:.2f} GFLOP/s\n",
      ceilings.matmul_gflops());
  return rows;
}

// Prefill of the prompt, then decode steps one token at a time, with the KV cache (plan_work).
std::vector<perf::InferenceRow> bench_inference_table(
    vk::Context& context, const BenchOptions& o, const BenchWork& work,
    const std::optional<perf::TorchResults>& torch) {
  fmt::print("\n{:<6} {:>6} {:>6} {:>6}  {:>11} {:>13}  {:>10} {:>12}  {:>10}  {:>19} {:>18}  {}\n",
             "infer", "V", "prompt", "decode", "prefill ms", "prefill tok/s", "decode ms",
             "decode tok/s", "memory", "torch prefill tok/s", "torch decode tok/s",
             "alpha/torch speed");
  std::vector<perf::InferenceRow> rows;
  for (size_t i = 0; i < work.infer.size(); ++i) {
    const auto& c = work.infer[i];
    const auto r = perf::bench_inference(context, c.model, c.config, c.prompt, c.steps, o.iters);
    perf::InferenceRow row{r, c.config};
    std::string torch_prefill = "-", torch_decode = "-", ratio;
    if (torch) {
      const auto& t = torch->infer[i];
      row.torch = t;
      torch_prefill = fmt::format("{:.0f}", t.prefill_tokens_per_s);
      torch_decode = fmt::format("{:.1f}", t.decode_tokens_per_s);
      const std::string prefill = speed_cell(t.prefill, r.prefill_ms);
      const std::string decode = speed_cell(t.decode, r.decode_ms);
      ratio = t.prefill.variant == t.decode.variant
                  ? fmt::format("prefill {}, decode {} ({})", prefill, decode, t.decode.variant)
                  : fmt::format("prefill {} ({}), decode {} ({})", prefill, t.prefill.variant,
                                decode, t.decode.variant);
    }
    fmt::print(
        "{:<6} {:>6} {:>6} {:>6}  {:>11.2f} {:>13.0f}  {:>10.2f} {:>12.1f}  {:>6.1f} MiB  {:>19} "
        "{:>18}  {}\n",
        c.model, c.config.vocab_size, c.prompt, c.steps, r.prefill_ms, r.prefill_tokens_per_s,
        r.decode_ms, r.decode_tokens_per_s, r.memory_bytes / 1048576.0, torch_prefill, torch_decode,
        ratio);
    std::fflush(stdout);
    rows.push_back(std::move(row));
  }
  fmt::print(
      "inference: batch 1 with the KV cache; decode ms is one token's whole pass, median over "
      "every step; torch runs the same model and cache (the prompt in one pass, greedy tokens)\n");
  return rows;
}

// The scheduler of `alpha serve` in process: aggregate decode tokens/s at 1, 4 and 8 concurrent
// streams of 64 tokens, and time to first token of a 128-token prompt against its plain prefill.
void bench_serve_table(vk::Context& context, const BenchOptions& o) {
  fmt::print("\n{:<6} {:>13} {:>13} {:>13}  {:>8} {:>8}  {:>13} {:>11}  {}\n", "serve",
             "1 stream tok/s", "4 streams", "8 streams", "4 vs 1", "8 vs 1", "ttft ms (128)",
             "prefill ms", "ttft/prefill");
  for (const auto& model : split(o.models)) {
    const auto r = perf::bench_serve(context, model, bench_config(model, o), 64, o.iters);
    const auto& t = r.decode_tokens_per_s;
    fmt::print(
        "{:<6} {:>14.1f} {:>13.1f} {:>13.1f}  {:>7.2f}x {:>7.2f}x  {:>13.2f} {:>11.2f}  {:.2f}\n",
        model, t[0], t[1], t[2], t[1] / t[0], t[2] / t[0], r.ttft_ms, r.prefill_ms,
        r.ttft_ms / r.prefill_ms);
    std::fflush(stdout);
  }
  fmt::print(
      "serve: greedy streams through the continuous-batching scheduler (one decode step for all), "
      "decode tokens/s after every stream's prefill; ttft through the idle scheduler\n");
}

// Fails early, before minutes of benchmarking, when a result could not be written.
void check_writable(const std::string& path, const char* what) {
  namespace fs = std::filesystem;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (fs::is_directory(path)) fail("{} {} is a folder; give a file path", what, path);
  if (!fs::is_directory(folder) || access(folder.c_str(), W_OK) != 0)
    fail("{} {}: folder {} does not exist or is not writable", what, path, folder.string());
}

nlohmann::json options_json(const BenchOptions& o) {
  return {{"iters", o.iters},
          {"warmup", o.warmup},
          {"row_budget_s", o.row_budget_s},
          {"ops", o.ops},
          {"size", o.size},
          {"tile", o.tile},
          {"naive", o.naive},
          {"shapes", o.shapes},
          {"models", o.models},
          {"batch", o.batch},
          {"seq", o.seq},
          {"vocab", o.vocab},
          {"arch", o.arch},
          {"mlp", o.mlp},
          {"vs_torch", o.vs_torch},
          {"precision", o.precision}};
}

void check_regressions(const std::vector<perf::HistoryRow>& history,
                       const std::vector<perf::HistoryRow>& rows, const std::string& history_file) {
  const auto regressions = perf::find_regressions(history, rows);
  const auto describe = [](const perf::Regression& r) {
    const bool time_metric = perf::metric_kind(r.current.metric) == perf::MetricKind::Time;
    return fmt::format(
        "{} of '{}' is {:.0f}% {} than the newest earlier row ({:.4g} vs {:.4g}, {} commit {})",
        r.current.metric, r.current.config, 100 * r.change, time_metric ? "slower" : "lower",
        r.current.value, r.previous.value, r.previous.time, r.previous.commit);
  };
  for (const auto& r : regressions) fmt::print("regression: {}\n", describe(r));
  if (!regressions.empty())
    fail("--check: {}; margin {:.0f}%{}", describe(regressions.front()),
         100 * perf::kRegressionMargin,
         regressions.size() > 1
             ? fmt::format(" (and {} more, listed above)", regressions.size() - 1)
             : "");
  fmt::print("check: no metric more than {:.0f}% worse than its newest earlier row in {}\n",
             100 * perf::kRegressionMargin, history_file);
}

// --tune: every candidate tile at the --shapes models' linear layers; the fastest is saved for the
// device.
void run_tune(const BenchOptions& o) {
  const int64_t tokens = int64_t(o.batch) * o.seq;
  std::vector<perf::MatmulCase> cases;
  for (const auto& model : split(o.shapes))
    for (auto& c : perf::gpt_matmul_cases(model, bench_config(model, o), tokens))
      cases.push_back(c);
  vk::Context context(context_options());
  const auto& info = context.info();
  fmt::print(
      "device: {} ({}, {} {})\ntuning the matmul tile at {} (B·T {}): {} shapes, each candidate in "
      "turn\n",
      info.name, info.type_name(), info.driver_name, info.driver_info, o.shapes, tokens,
      cases.size());
  perf::MatmulBenchOptions options;
  options.iters = o.iters;
  options.warmup = o.warmup;
  options.budget_ms = budget_ms(o);
  const auto result = perf::tune_matmul_tile(
      context, cases, fmt::format("{} at B·T {}", o.shapes, tokens), options);
  fmt::print("\n{:<20} {:>10}  {}\n", "tile", "total ms", "per shape ms");
  for (const auto& c : result.candidates) {
    std::string per_case;
    for (double ms : c.case_ms) per_case += fmt::format("{:.3f} ", ms);
    if (!c.error.empty()) per_case = "failed: " + c.error;
    fmt::print("{:<20} {:>10.3f}  {}{}\n", c.tile.to_string(), c.total_ms, per_case,
               c.tile.to_string() == result.winner.to_string() ? " <- fastest" : "");
  }
  fmt::print(
      "saved {} in {}: matmuls without an explicit tile use it from now on (ALPHA_MATMUL_TILE "
      "overrides)\n",
      result.winner.to_string(), ops::matmul_tuning_path(info).string());
  if (info.type == VK_PHYSICAL_DEVICE_TYPE_CPU)
    fmt::print(
        "on a CPU device the texel kernels take every matmul whose shapes they fit; the tile "
        "serves the rest\n");
}

void run_bench(const BenchOptions& o) {
  if (o.tune) return run_tune(o);
  if (o.iters < 1) fail("--iters must be at least 1");
  if (o.warmup < 0) fail("--warmup must not be negative");
  if (o.size < 0) fail("--size must not be negative");
  if (!(o.row_budget_s >= 0)) fail("--row-budget must not be negative");
  auto ops = split(o.ops);
  std::string known = "matmul";
  for (const auto& group : perf::kernel_groups()) known += ", " + group;
  for (const auto& op : ops)
    if (op != "matmul" && op != "train" && op != "infer" && op != "serve" &&
        !has(perf::kernel_groups(), op))
      fail("--ops={}: unknown op '{}' (known: {}, train, infer, serve)", o.ops, op, known);
  // Everything that could refuse a result is checked before the benchmarks run.
  const BenchWork work = plan_work(ops, o);
  if (!o.json.empty()) check_writable(o.json, "--json");
  const std::string history_file = perf::history_path();
  std::vector<perf::HistoryRow> history;
  if (o.record || o.check) history = perf::read_history(history_file);
  if (o.record) check_writable(history_file, "--record: history");

  vk::Context context(context_options());
  const auto& info = context.info();
  perf::BenchReport report;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  report.time = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(now));
  report.commit = ALPHA_GIT_COMMIT;
  report.device = info.name;
  report.device_type = info.type_name();
  report.driver = info.driver_name;
  report.driver_info = info.driver_info;
  report.options = options_json(o);
  fmt::print("device: {} ({}, {} {})\n", info.name, info.type_name(), info.driver_name,
             info.driver_info);
  if (o.vs_torch) report.torch = run_peer(info, work, o);

  report.ceilings = perf::measure_ceilings(context, o.iters, o.warmup, budget_ms(o));
  print_ceilings(report.ceilings, report.torch);
  if (!work.matmuls.empty())
    report.matmuls = bench_matmul_table(context, o, work, report.ceilings, report.torch);
  if (!work.kernels.empty())
    report.kernels = bench_kernel_table(context, o, work, report.ceilings, report.torch);
  if (!work.train.empty())
    report.trains = bench_train_table(context, o, work, report.ceilings, report.torch);
  if (!work.infer.empty())
    report.inferences = bench_inference_table(context, o, work, report.torch);
  if (has(ops, "serve")) bench_serve_table(context, o);

  if (!o.json.empty()) {
    perf::write_file_atomically(o.json, perf::report_json(report).dump(2) + "\n");
    fmt::print("results: {}\n", o.json);
  }
  const auto rows = perf::report_history_rows(report);
  if (o.record) {
    perf::append_history(history_file, rows);
    fmt::print("recorded {} rows in {}\n", rows.size(), history_file);
  }
  if (o.check) check_regressions(history, rows, history_file);
}
}  // namespace

void add_bench_command(CLI::App& app) {
  static BenchOptions o;
  auto* cmd =
      app.add_subcommand("bench", "Benchmark kernels and training steps on the chosen device");
  cmd->add_option("--iters", o.iters, "Timed iterations per kernel or step")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Untimed iterations first")->capture_default_str();
  cmd->add_option("--row-budget", o.row_budget_s,
                  "Seconds of timed iterations per kernel row at most: the first timed iteration "
                  "sizes the rest, "
                  "at least 3 run (0: always --iters; training steps always run --iters)")
      ->capture_default_str();
  cmd->add_option(
         "--ops", o.ops,
         "What to run (comma-separated): matmul, attention, layernorm, gelu (the MLP activation: "
         "SwiGLU for --mlp=swiglu), softmax_xent, adamw, train, infer (prefill and decode with the "
         "KV cache), serve (concurrent streams through alpha serve's batching scheduler)")
      ->capture_default_str();
  cmd->add_option(
         "--shapes", o.shapes,
         "Model presets whose own shapes the matmul and kernel rows run, at --batch x --seq tokens")
      ->capture_default_str();
  cmd->add_option(
      "--size", o.size,
      "One square matmul of this size (with the naive kernel) instead of the GPT shapes");
  cmd->add_option("--tile", o.tile, "Matmul tile BMxBNxBKxTMxTN instead of the device default");
  cmd->add_flag("!--no-naive", o.naive, "Skip the naive baseline kernel of --size");
  cmd->add_option("--model", o.models,
                  "Model presets for the training step and inference (comma-separated, e.g. d2,d6)")
      ->capture_default_str();
  cmd->add_option("--precision", o.precision,
                  "Precision of the training step: fp32, fp16 or auto (as alpha train --precision; "
                  "rows named "
                  "e.g. d2-fp16)")
      ->capture_default_str();
  cmd->add_option("--arch", o.arch, "Architecture of the models: gpt2 or modern (as alpha train --arch)")
      ->capture_default_str();
  cmd->add_option(
      "--mlp", o.mlp,
      "MLP of the models instead of --arch's: gelu, relu2 or swiglu (as alpha train --mlp)");
  cmd->add_option("--batch", o.batch, "Batch size (B) of the training step and the kernel shapes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seq", o.seq, "Sequence length (T) of the training step and the kernel shapes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--vocab", o.vocab,
                  "Vocabulary size (default 4096 below d12, else the preset's)");
  cmd->add_flag(
      "--tune", o.tune,
      "Time the matmul tile candidates at the --shapes models' linear layers and save the fastest "
      "for this device and driver (next to the pipeline cache); matmuls use it from then on");
  cmd->add_flag("--vs-torch", o.vs_torch,
                "Also time PyTorch doing the identical work (perf/torch_baseline.py: CUDA when "
                "torch sees a GPU, "
                "else CPU) and print it beside every row");
  cmd->add_option(
      "--json", o.json,
      "Write every result (device, commit, config, ceilings, rows, MFU) to this JSON file");
  cmd->add_flag("--record", o.record,
                "Append one row per metric to perf/history.csv (ALPHA_HISTORY overrides the path)");
  cmd->add_flag(
      "--check", o.check,
      fmt::format(
          "Exit non-zero when a time metric is more than {0:.0f}% slower, or a throughput metric "
          "(GFLOP/s, GB/s, tokens/s) more than {0:.0f}% lower, than the newest earlier history row "
          "of the same device, config and metric (MFU and the torch figures are recorded, not "
          "checked)",
          100 * perf::kRegressionMargin));
  cmd->callback([] { run_bench(o); });
}

}  // namespace alpha::cli
