// `alpha bench`: benchmarks on the chosen device. The matmul table (tiled vs naive, GFLOP/s from GPU
// timestamps) and the training step (ms/step, tokens/s), optionally next to PyTorch doing the
// identical step (--vs-torch), MFU against the run's best matmul, a JSON report (--json) and the
// perf/history.csv record and regression check (--record, --check; see perf/history.h).
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "perf/flops.h"
#include "perf/history.h"
#include "perf/matmul_bench.h"
#include "perf/train_bench.h"
#include "version.h"

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
  std::string json;    // write every result here as one JSON object
  bool record = false;  // append one row per metric to the history CSV
  bool check = false;   // fail when a metric regressed against the history CSV
};

// One training-step row: the bench result, its config, the torch peer and MFU (NaN: no matmul peak).
struct TrainRow {
  perf::TrainBenchResult result;
  gpt::GptConfig config;
  std::optional<perf::TorchPeerResult> torch;
  double mfu = std::numeric_limits<double>::quiet_NaN();
};

const char* layout_name(ops::Layout layout) {
  switch (layout) {
    case ops::Layout::NN: return "NN";
    case ops::Layout::NT: return "NT";
    case ops::Layout::TN: return "TN";
  }
  return "?";
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> items;
  std::stringstream stream(list);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}
}  // namespace

static std::vector<perf::MatmulResult> bench_matmul(vk::Context& context, const BenchOptions& o) {
  perf::MatmulBenchOptions options;
  options.iters = o.iters;
  options.warmup = o.warmup;
  options.naive = o.naive;
  if (!o.tile.empty()) options.tile = ops::parse_matmul_tile(o.tile);
  auto cases = o.size > 0 ? std::vector<perf::MatmulCase>{{fmt::format("square {}", o.size), o.size, o.size, o.size}}
                          : perf::default_matmul_cases();
  fmt::print("{:<34} {:>6} {:>6} {:>6}  {:<24} {:>10} {:>10} {:>9}  {}\n", "matmul", "M", "N", "K", "kernel",
             "median ms", "spread ms", "GFLOP/s", "check");
  auto results = perf::bench_matmul(context, cases, options);
  for (const auto& r : results) {
    std::string check = r.max_rel_error < 0 ? "" : fmt::format("max rel err {:.1e} vs naive", r.max_rel_error);
    fmt::print("{:<34} {:>6} {:>6} {:>6}  {:<24} {:>10.3f} {:>10.3f} {:>9.2f}  {}\n", r.shape.name, r.shape.M,
               r.shape.N, r.shape.K, r.kernel, r.median_ms, r.max_ms - r.min_ms, r.gflops, check);
    std::fflush(stdout);
  }
  return results;
}

// peak_gflops: the best matmul of this run (the device ceiling for MFU); 0 when none ran.
static std::vector<TrainRow> bench_train(vk::Context& context, const BenchOptions& o, double peak_gflops) {
  std::vector<TrainRow> rows;
  fmt::print("\n{:<6} {:>5} {:>5} {:>6}  {:>10} {:>10} {:>11} {:>6}  {:>14} {:>13}  {}\n", "train", "B", "T", "V",
             "ms/step", "spread ms", "tokens/s", "MFU", "torch ms/step", "torch tok/s", "alpha/torch speed");
  for (const auto& name : split(o.models)) {
    gpt::GptConfig config = gpt::GptConfig::preset(name);
    if (o.vocab > 0) config.vocab_size = o.vocab;
    else if (config.n_layer < 12) config.vocab_size = 4096;
    config.seq_len = std::max(config.seq_len, o.seq);
    auto r = perf::bench_train_step(context, name, config, o.batch, o.seq, o.iters, o.warmup);
    TrainRow row{r, config};
    if (peak_gflops > 0) row.mfu = perf::mfu(r.flops_per_step / (r.ms_per_step / 1000.0), peak_gflops * 1e9);
    std::string torch_ms = "-", torch_tps = "-", ratio = "";
    std::string mfu = std::isnan(row.mfu) ? "-" : fmt::format("{:.1f}%", 100 * row.mfu);
    if (o.vs_torch) {
      if (auto t = perf::torch_train_step(config, o.batch, o.seq, std::min(o.iters, 5))) {
        row.torch = t;
        torch_ms = fmt::format("{:.1f}", t->ms_per_step);
        torch_tps = fmt::format("{:.0f}", t->tokens_per_s);
        ratio = fmt::format("{:.2f}x (torch {} thread{})", t->ms_per_step / r.ms_per_step, t->threads,
                            t->threads > 1 ? "s" : "");
      }
    }
    fmt::print("{:<6} {:>5} {:>5} {:>6}  {:>10.1f} {:>10.1f} {:>11.0f} {:>6}  {:>14} {:>13}  {}\n", name, o.batch,
               o.seq, config.vocab_size, r.ms_per_step, r.spread_ms, r.tokens_per_s, mfu, torch_ms, torch_tps, ratio);
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
    rows.push_back(std::move(row));
  }
  if (peak_gflops > 0)
    fmt::print("MFU: training FLOP/s (6·N + 12·L·H·Q·T per token, PaLM/nanoGPT) over this run's best matmul, "
               "{:.2f} GFLOP/s\n", peak_gflops);
  else
    fmt::print("MFU: needs a matmul in the same run (--ops matmul,train) for the device ceiling\n");
  return rows;
}

// Fails early, before minutes of benchmarking, when a result could not be written.
static void check_writable(const std::string& path, const char* what) {
  namespace fs = std::filesystem;
  fs::path folder = fs::path(path).parent_path();
  if (folder.empty()) folder = ".";
  if (fs::is_directory(path)) fail("{} {} is a folder; give a file path", what, path);
  if (!fs::is_directory(folder) || access(folder.c_str(), W_OK) != 0)
    fail("{} {}: folder {} does not exist or is not writable", what, path, folder.string());
}

static nlohmann::json bench_json(const vk::DeviceInfo& info, const BenchOptions& o, const std::string& time,
                                 double peak_gflops, const std::vector<perf::MatmulResult>& matmuls,
                                 const std::vector<TrainRow>& trains) {
  using nlohmann::json;
  const auto number_or_null = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
  json j;
  j["time"] = time;
  j["commit"] = ALPHA_GIT_COMMIT;
  j["device"] = {{"name", info.name}, {"type", info.type_name()}, {"driver", info.driver_name},
                 {"driver_info", info.driver_info}};
  j["config"] = {{"iters", o.iters}, {"warmup", o.warmup}, {"ops", o.ops}, {"size", o.size}, {"tile", o.tile},
                 {"naive", o.naive}, {"models", o.models}, {"batch", o.batch}, {"seq", o.seq}, {"vocab", o.vocab},
                 {"vs_torch", o.vs_torch}};
  j["peak_gflops"] = peak_gflops > 0 ? json(peak_gflops) : json(nullptr);
  j["matmul"] = json::array();
  for (const auto& r : matmuls) {
    json row = {{"name", r.shape.name}, {"M", r.shape.M}, {"N", r.shape.N}, {"K", r.shape.K},
                {"layout", layout_name(r.shape.layout)}, {"kernel", r.kernel}, {"median_ms", r.median_ms},
                {"min_ms", r.min_ms}, {"max_ms", r.max_ms}, {"gflops", r.gflops}};
    if (r.max_rel_error >= 0) row["max_rel_error"] = r.max_rel_error;
    j["matmul"].push_back(row);
  }
  j["train"] = json::array();
  for (const auto& t : trains) {
    const auto& r = t.result;
    json memory = json::object();
    for (const auto& group : r.memory) memory[group.name] = group.bytes;
    json kernels = json::object();
    for (const auto& [kernel, ms] : r.kernel_ms) kernels[kernel] = ms;
    json row = {{"model", r.model}, {"n_layer", t.config.n_layer}, {"n_head", t.config.n_head},
                {"n_embd", t.config.n_embd}, {"vocab_size", t.config.vocab_size}, {"batch", r.batch},
                {"seq", r.seq}, {"ms_per_step", r.ms_per_step}, {"spread_ms", r.spread_ms},
                {"tokens_per_s", r.tokens_per_s}, {"flops_per_step", r.flops_per_step},
                {"flops_per_s", r.flops_per_step / (r.ms_per_step / 1000.0)}, {"mfu", number_or_null(t.mfu)},
                {"memory_bytes", memory}, {"kernel_ms", kernels}, {"dispatches", r.dispatches},
                {"barriers", r.barriers}};
    row["torch"] = t.torch ? json{{"ms_per_step", t.torch->ms_per_step}, {"tokens_per_s", t.torch->tokens_per_s},
                                  {"threads", t.torch->threads}}
                           : json(nullptr);
    j["train"].push_back(row);
  }
  return j;
}

static std::vector<perf::HistoryRow> history_rows(const vk::DeviceInfo& info, const std::string& time,
                                                  const std::vector<perf::MatmulResult>& matmuls,
                                                  const std::vector<TrainRow>& trains) {
  std::vector<perf::HistoryRow> rows;
  const auto add = [&](const std::string& config, const char* metric, double value) {
    if (std::isfinite(value)) rows.push_back({time, ALPHA_GIT_COMMIT, info.name, info.driver_info, config, metric, value});
  };
  for (const auto& r : matmuls) {
    auto config = fmt::format("matmul {}x{}x{} {} {}", r.shape.M, r.shape.N, r.shape.K, layout_name(r.shape.layout), r.kernel);
    add(config, "median_ms", r.median_ms);
    add(config, "gflops", r.gflops);
  }
  for (const auto& t : trains) {
    auto config = fmt::format("train {} L{} H{} C{} V{} B{} T{}", t.result.model, t.config.n_layer, t.config.n_head,
                              t.config.n_embd, t.config.vocab_size, t.result.batch, t.result.seq);
    add(config, "ms_per_step", t.result.ms_per_step);
    add(config, "tokens_per_s", t.result.tokens_per_s);
    add(config, "mfu", t.mfu);
  }
  return rows;
}

static void run_bench(const BenchOptions& o) {
  if (o.iters < 1) fail("--iters must be at least 1");
  if (o.warmup < 0) fail("--warmup must not be negative");
  auto ops = split(o.ops);
  for (const auto& op : ops)
    if (op != "matmul" && op != "train") fail("--ops={}: unknown op '{}' (known: matmul, train)", o.ops, op);
  // Everything that could refuse a result is checked before the benchmarks run.
  if (!o.json.empty()) check_writable(o.json, "--json");
  const std::string history_file = perf::history_path();
  std::vector<perf::HistoryRow> history;
  if (o.record || o.check) history = perf::read_history(history_file);
  if (o.record) check_writable(history_file, "--record: history");

  vk::Context context(context_options());
  const auto& info = context.info();
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  const std::string time = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(now));
  fmt::print("device: {} ({}, {} {})\n", info.name, info.type_name(), info.driver_name, info.driver_info);
  std::vector<perf::MatmulResult> matmuls;
  std::vector<TrainRow> trains;
  double peak_gflops = 0;
  // The matmuls run first whatever the order given: their best is the ceiling for the train rows' MFU.
  std::stable_partition(ops.begin(), ops.end(), [](const std::string& op) { return op == "matmul"; });
  for (const auto& op : ops) {
    if (op == "matmul") {
      auto results = bench_matmul(context, o);
      for (const auto& r : results) peak_gflops = std::max(peak_gflops, r.gflops);
      matmuls.insert(matmuls.end(), results.begin(), results.end());
    }
    if (op == "train") {
      auto rows = bench_train(context, o, peak_gflops);
      trains.insert(trains.end(), rows.begin(), rows.end());
    }
  }

  if (!o.json.empty()) {
    perf::write_file_atomically(o.json, bench_json(info, o, time, peak_gflops, matmuls, trains).dump(2) + "\n");
    fmt::print("results: {}\n", o.json);
  }
  const auto rows = history_rows(info, time, matmuls, trains);
  std::vector<perf::Regression> regressions;
  if (o.check) regressions = perf::find_regressions(history, rows);
  if (o.record) {
    perf::append_history(history_file, rows);
    fmt::print("recorded {} rows in {}\n", rows.size(), history_file);
  }
  if (!o.check) return;
  const auto describe = [](const perf::Regression& r) {
    const bool time_metric = perf::metric_kind(r.current.metric) == perf::MetricKind::Time;
    return fmt::format("{} of '{}' is {:.0f}% {} than the newest earlier row ({:.4g} vs {:.4g}, {} commit {})",
                       r.current.metric, r.current.config, 100 * r.change, time_metric ? "slower" : "lower",
                       r.current.value, r.previous.value, r.previous.time, r.previous.commit);
  };
  for (const auto& r : regressions) fmt::print("regression: {}\n", describe(r));
  if (!regressions.empty())
    fail("--check: {}; margin {:.0f}%{}", describe(regressions.front()), 100 * perf::kRegressionMargin,
         regressions.size() > 1 ? fmt::format(" (and {} more, listed above)", regressions.size() - 1) : "");
  fmt::print("check: no metric more than {:.0f}% worse than its newest earlier row in {}\n",
             100 * perf::kRegressionMargin, history_file);
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
  cmd->add_option("--json", o.json, "Write every result (device, commit, config, rows, MFU) to this JSON file");
  cmd->add_flag("--record", o.record,
                "Append one row per metric to perf/history.csv (ALPHA_HISTORY overrides the path)");
  cmd->add_flag("--check", o.check,
                fmt::format("Exit non-zero when a time metric is more than {0:.0f}% slower, or a throughput metric "
                            "more than {0:.0f}% lower, than the newest earlier history row of the same device, "
                            "config and metric (MFU is recorded, not checked)",
                            100 * perf::kRegressionMargin));
  cmd->callback([] { run_bench(o); });
}

}  // namespace alpha::cli
