// Benchmark history: `alpha bench --record` appends one CSV row per metric to perf/history.csv, and
// `--check` compares each metric with the newest earlier row of the same device, config and metric.
// Measuring is the benches' job; this file only reads, compares and (atomically) writes rows.
#pragma once

#include <string>
#include <vector>

namespace alpha::perf {

// time,commit,device,driver,config,metric,value — fields quoted RFC 4180 style when they hold a comma.
struct HistoryRow {
  std::string time, commit, device, driver, config, metric;
  double value = 0;
};

constexpr const char* kHistoryHeader = "time,commit,device,driver,config,metric,value";
// A time metric more than this much slower, or a throughput metric this much lower, is a regression.
constexpr double kRegressionMargin = 0.15;

// ALPHA_HISTORY when set, else <source dir>/perf/history.csv.
std::string history_path();

// The rows of `path`, oldest first; none when the file does not exist. Throws alpha::Error naming
// path:line and the problem on a malformed file (wrong header, field count, quoting, or value).
std::vector<HistoryRow> read_history(const std::string& path);

// Appends `rows` to `path` (with the header when the file is new) by rewriting it atomically.
void append_history(const std::string& path, const std::vector<HistoryRow>& rows);

enum class MetricKind { Time, Throughput, Info };  // lower is better, higher is better, not checked
// "*_ms", "ms_per_step": time; "gflops", "gbps", "tokens_per_s": throughput; anything else (mfu) and
// the PyTorch peer's figures ("torch_*": recorded for context, not ours to regress): info.
MetricKind metric_kind(const std::string& metric);

struct Regression {
  HistoryRow previous, current;
  double change = 0;  // fraction worse: slower for time, lower for throughput
};
// Each checked metric of `current` against the newest row of `history` (the last in file order, which
// is append order) with the same device, config and metric; those worse than `margin`, in the order
// of `current`. A metric without an earlier row passes.
std::vector<Regression> find_regressions(const std::vector<HistoryRow>& history, const std::vector<HistoryRow>& current,
                                         double margin = kRegressionMargin);

// Writes `content` to `path` through a temporary file in the same folder and a rename, so readers
// see the old file or the new one, never half of it. Throws alpha::Error naming the path on failure.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace alpha::perf
