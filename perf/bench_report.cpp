// The bench's JSON report and history rows (see bench_report.h).
#include "perf/bench_report.h"

#include <fmt/format.h>

#include <cmath>

namespace alpha::perf {

using nlohmann::json;

static json number(double x) {
  return std::isfinite(x) ? json(x) : json(nullptr);
}

static json torch_json(const std::optional<TorchTiming>& t, double alpha_ms) {
  if (!t) return nullptr;
  return {{"median_ms", t->median_ms},
          {"min_ms", t->min_ms},
          {"max_ms", t->max_ms},
          {"variant", t->variant},
          {"speed_ratio", number(speed_ratio(t->median_ms, alpha_ms))}};
}

static json ceilings_json(const BenchReport& report) {
  const Ceilings& c = report.ceilings;
  json j = {{"copy_bytes", copy_work(c.copy_floats).bytes},
            {"copy_median_ms", c.copy.median_ms},
            {"copy_min_ms", c.copy.min_ms},
            {"copy_max_ms", c.copy.max_ms},
            {"copy_iters", c.copy.iters},
            {"copy_gbps", number(c.copy_gbps)},
            {"matmul_name", c.matmul.shape.name},
            {"matmul_kernel", c.matmul.kernel},
            {"matmul_median_ms", c.matmul.median_ms},
            {"matmul_iters", c.matmul.iters},
            {"matmul_gflops", number(c.matmul.gflops)}};
  j["torch"] = report.torch && report.torch->copy_gbps > 0
                   ? json{{"copy_gbps", report.torch->copy_gbps},
                          {"matmul_gflops", report.torch->matmul_gflops}}
                   : json(nullptr);
  return j;
}

static json matmul_json(const MatmulRow& row) {
  const MatmulResult& r = row.result;
  json j = {{"name", r.shape.name},
            {"M", r.shape.M},
            {"N", r.shape.N},
            {"K", r.shape.K},
            {"layout", layout_name(r.shape.layout)},
            {"kernel", r.kernel},
            {"median_ms", r.median_ms},
            {"min_ms", r.min_ms},
            {"max_ms", r.max_ms},
            {"iters", r.iters},
            {"gflops", number(r.gflops)},
            {"ceiling_fraction", number(row.ceiling_fraction)},
            {"torch", torch_json(row.torch, r.median_ms)}};
  if (r.max_rel_error >= 0) j["max_rel_error"] = r.max_rel_error;
  return j;
}

static json kernel_json(const KernelRow& row) {
  const KernelResult& r = row.result;
  const KernelCase& k = r.kernel;
  json dims = json::object();
  for (const auto& [name, value] : k.dims) dims[name] = value;
  const double ms = r.timing.median_ms;
  json j = {{"op", kernel_op_name(k.op)},
            {"model", k.model},
            {"shape", k.shape},
            {"dims", dims},
            {"bound", k.work.bound == Bound::Compute ? "compute" : "memory"},
            {"bytes", k.work.bytes},
            {"median_ms", ms},
            {"min_ms", r.timing.min_ms},
            {"max_ms", r.timing.max_ms},
            {"iters", r.timing.iters},
            {"dispatches", r.timing.dispatches},
            {"gbps", number(k.work.bytes / (ms * 1e6))},
            {"ceiling_fraction", number(row.ceiling_fraction)},
            {"torch", torch_json(row.torch, ms)}};
  if (k.work.bound == Bound::Compute) {
    j["flops"] = k.work.flops;
    j["gflops"] = number(k.work.flops / (ms * 1e6));
  }
  return j;
}

static json train_json(const TrainRow& t) {
  const TrainBenchResult& r = t.result;
  json memory = json::object();
  uint64_t total = 0;
  for (const auto& group : r.memory) {
    memory[group.name] = group.bytes;
    total += group.bytes;
  }
  json kernels = json::object();
  for (const auto& [kernel, ms] : r.kernel_ms) kernels[kernel] = ms;
  json j = {{"model", r.model},
            {"n_layer", t.config.n_layer},
            {"n_head", t.config.n_head},
            {"n_embd", t.config.n_embd},
            {"vocab_size", t.config.vocab_size},
            {"batch", r.batch},
            {"seq", r.seq},
            {"ms_per_step", r.ms_per_step},
            {"spread_ms", r.spread_ms},
            {"tokens_per_s", r.tokens_per_s},
            {"flops_per_step", r.flops_per_step},
            {"flops_per_s", r.flops_per_step / (r.ms_per_step / 1000.0)},
            {"mfu", number(t.mfu)},
            {"memory_bytes", memory},
            {"memory_total_bytes", total},
            {"kernel_ms", kernels},
            {"dispatches", r.dispatches},
            {"barriers", r.barriers},
            {"host_ms_replayed", r.host_ms_replayed},
            {"host_ms_recorded", r.host_ms_recorded}};
  if (t.torch) {
    json variants = json::object();
    for (const auto& [variant, ms] : t.torch->variants) variants[variant] = ms;
    j["torch"] = {{"ms_per_step", t.torch->ms_per_step},
                  {"tokens_per_s", t.torch->tokens_per_s},
                  {"variant", t.torch->variant},
                  {"variants", variants},
                  {"speed_ratio", number(speed_ratio(t.torch->ms_per_step, r.ms_per_step))}};
  } else {
    j["torch"] = nullptr;
  }
  return j;
}

static json inference_json(const InferenceRow& row) {
  const InferenceBenchResult& r = row.result;
  json j = {{"model", r.model},
            {"n_layer", row.config.n_layer},
            {"n_embd", row.config.n_embd},
            {"vocab_size", row.config.vocab_size},
            {"prompt_tokens", r.prompt},
            {"decode_tokens", r.steps},
            {"prefill_ms", number(r.prefill_ms)},
            {"prefill_tokens_per_s", number(r.prefill_tokens_per_s)},
            {"decode_ms", number(r.decode_ms)},
            {"decode_tokens_per_s", number(r.decode_tokens_per_s)},
            {"memory_bytes", r.memory_bytes}};
  if (row.torch) {
    json prefill = torch_json(row.torch->prefill, r.prefill_ms);
    json decode = torch_json(row.torch->decode, r.decode_ms);
    prefill["tokens_per_s"] = number(row.torch->prefill_tokens_per_s);
    decode["tokens_per_s"] = number(row.torch->decode_tokens_per_s);
    j["torch"] = {{"prefill", prefill}, {"decode", decode}};
  } else {
    j["torch"] = nullptr;
  }
  return j;
}

json report_json(const BenchReport& report) {
  json j;
  j["time"] = report.time;
  j["commit"] = report.commit;
  j["device"] = {{"name", report.device},
                 {"type", report.device_type},
                 {"driver", report.driver},
                 {"driver_info", report.driver_info}};
  j["config"] = report.options;
  j["ceilings"] = ceilings_json(report);
  j["peak_gflops"] = number(report.ceilings.matmul.gflops);  // the MFU denominator
  j["torch"] = report.torch ? json{{"version", report.torch->version},
                                   {"device", report.torch->device},
                                   {"notes", report.torch->notes}}
                            : json(nullptr);
  j["matmul"] = json::array();
  for (const auto& row : report.matmuls) j["matmul"].push_back(matmul_json(row));
  j["kernels"] = json::array();
  for (const auto& row : report.kernels) j["kernels"].push_back(kernel_json(row));
  j["train"] = json::array();
  for (const auto& row : report.trains) j["train"].push_back(train_json(row));
  j["inference"] = json::array();
  for (const auto& row : report.inferences) j["inference"].push_back(inference_json(row));
  return j;
}

std::vector<HistoryRow> report_history_rows(const BenchReport& report) {
  std::vector<HistoryRow> rows;
  const auto add = [&](const std::string& config, const char* metric, double value) {
    if (std::isfinite(value))
      rows.push_back(
          {report.time, report.commit, report.device, report.driver_info, config, metric, value});
  };
  const Ceilings& c = report.ceilings;
  add(fmt::format("ceiling copy {} MiB", c.copy_floats * 4 / 1048576), "gbps", c.copy_gbps);
  add(fmt::format("ceiling matmul {}x{}x{} {}", c.matmul.shape.M, c.matmul.shape.N,
                  c.matmul.shape.K, c.matmul.kernel),
      "gflops", c.matmul.gflops);
  for (const auto& row : report.matmuls) {
    const MatmulResult& r = row.result;
    auto config = fmt::format("matmul {}x{}x{} {} {}", r.shape.M, r.shape.N, r.shape.K,
                              layout_name(r.shape.layout), r.kernel);
    add(config, "median_ms", r.median_ms);
    add(config, "gflops", r.gflops);
    if (row.torch) add(config, "torch_median_ms", row.torch->median_ms);
  }
  for (const auto& row : report.kernels) {
    const KernelCase& k = row.result.kernel;
    auto config = fmt::format("kernel {} {} {}", kernel_op_name(k.op), k.model, k.shape);
    add(config, "median_ms", row.result.timing.median_ms);
    add(config, k.work.bound == Bound::Compute ? "gflops" : "gbps", row.result.rate);
    if (row.torch) add(config, "torch_median_ms", row.torch->median_ms);
  }
  for (const auto& t : report.trains) {
    auto config = fmt::format("train {} L{} H{} C{} V{} B{} T{}", t.result.model, t.config.n_layer,
                              t.config.n_head, t.config.n_embd, t.config.vocab_size, t.result.batch,
                              t.result.seq);
    add(config, "ms_per_step", t.result.ms_per_step);
    add(config, "tokens_per_s", t.result.tokens_per_s);
    add(config, "mfu", t.mfu);
    if (t.torch) add(config, "torch_ms_per_step", t.torch->ms_per_step);
  }
  for (const auto& row : report.inferences) {
    const InferenceBenchResult& r = row.result;
    auto config = fmt::format("infer {} L{} H{} C{} V{} prompt {}", r.model, row.config.n_layer, row.config.n_head,
                              row.config.n_embd, row.config.vocab_size, r.prompt);
    add(config, "prefill_ms", r.prefill_ms);
    add(config, "prefill_tokens_per_s", r.prefill_tokens_per_s);
    add(config, "decode_ms", r.decode_ms);
    add(config, "decode_tokens_per_s", r.decode_tokens_per_s);
    if (row.torch) {
      add(config, "torch_prefill_ms", row.torch->prefill.median_ms);
      add(config, "torch_decode_ms", row.torch->decode.median_ms);
    }
  }
  return rows;
}

}  // namespace alpha::perf
