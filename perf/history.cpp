// Benchmark history CSV (see history.h): parsing with line-numbered errors, atomic rewrite, comparison.
#include "perf/history.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace alpha::perf {

std::string history_path() {
  if (const char* path = std::getenv("ALPHA_HISTORY"); path && *path) return path;
  return std::string(ALPHA_SOURCE_DIR) + "/perf/history.csv";
}

static std::string csv_field(std::string field) {
  for (char& c : field)
    if (c == '\n' || c == '\r') c = ' ';
  if (field.find_first_of(",\"") == std::string::npos) return field;
  std::string quoted = "\"";
  for (char c : field) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

// Splits one CSV line; an empty string in `error` on success.
static std::vector<std::string> split_csv(const std::string& line, std::string& error) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c != '"') fields.back() += c;
      else if (i + 1 < line.size() && line[i + 1] == '"') fields.back() += '"', ++i;
      else quoted = false;
    } else if (c == '"' && fields.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) error = "unterminated quoted field";
  return fields;
}

std::vector<HistoryRow> read_history(const std::string& path) {
  std::vector<HistoryRow> rows;
  if (!std::filesystem::exists(path)) return rows;
  std::ifstream in(path);
  if (!in) fail("cannot read {}: {}", path, std::strerror(errno));
  const auto broken = [&](int line, const std::string& what) {
    fail("{}:{}: {}; fix or remove that line (expected {})", path, line, what, kHistoryHeader);
  };
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (number == 1) {
      if (line != kHistoryHeader) broken(1, fmt::format("header is '{}'", line));
      continue;
    }
    if (line.empty()) continue;
    std::string error;
    auto f = split_csv(line, error);
    if (!error.empty()) broken(number, error);
    if (f.size() != 7) broken(number, fmt::format("{} fields instead of 7", f.size()));
    char* end = nullptr;
    errno = 0;
    double value = std::strtod(f[6].c_str(), &end);
    if (f[6].empty() || *end || errno || !std::isfinite(value)) broken(number, fmt::format("value '{}' is not a finite number", f[6]));
    rows.push_back({f[0], f[1], f[2], f[3], f[4], f[5], value});
  }
  if (number == 0) fail("{} is empty; remove it or restore its header ({})", path, kHistoryHeader);
  return rows;
}

void append_history(const std::string& path, const std::vector<HistoryRow>& rows) {
  std::string content;
  if (std::filesystem::exists(path)) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream existing;
    existing << in.rdbuf();
    if (!in) fail("cannot read {}: {}", path, std::strerror(errno));
    content = existing.str();
    if (!content.empty() && content.back() != '\n') content += '\n';
  } else {
    content = std::string(kHistoryHeader) + "\n";
  }
  for (const auto& r : rows)
    content += fmt::format("{},{},{},{},{},{},{}\n", csv_field(r.time), csv_field(r.commit), csv_field(r.device),
                           csv_field(r.driver), csv_field(r.config), csv_field(r.metric), r.value);
  write_file_atomically(path, content);
}

MetricKind metric_kind(const std::string& metric) {
  if (metric.starts_with("torch_")) return MetricKind::Info;
  if (metric.ends_with("_ms") || metric == "ms_per_step") return MetricKind::Time;
  if (metric == "gflops" || metric == "gbps" || metric.ends_with("tokens_per_s")) return MetricKind::Throughput;
  return MetricKind::Info;
}

std::vector<Regression> find_regressions(const std::vector<HistoryRow>& history, const std::vector<HistoryRow>& current,
                                         double margin) {
  std::vector<Regression> regressions;
  for (const auto& now : current) {
    const MetricKind kind = metric_kind(now.metric);
    if (kind == MetricKind::Info) continue;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      if (it->device != now.device || it->config != now.config || it->metric != now.metric) continue;
      if (it->value > 0) {
        double change = kind == MetricKind::Time ? now.value / it->value - 1 : 1 - now.value / it->value;
        if (change > margin) regressions.push_back({*it, now, change});
      }
      break;  // only the newest earlier row counts
    }
  }
  return regressions;
}

void write_file_atomically(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path temp = target.parent_path() / fmt::format(".{}.tmp.{}", target.filename().string(), getpid());
  FILE* file = std::fopen(temp.c_str(), "wb");
  if (!file) fail("cannot write {}: {} (check the folder exists and is writable)", path, std::strerror(errno));
  bool ok = std::fwrite(content.data(), 1, content.size(), file) == content.size();
  ok = std::fflush(file) == 0 && ok;
  ok = fsync(fileno(file)) == 0 && ok;
  const int write_errno = errno;
  ok = std::fclose(file) == 0 && ok;
  if (!ok) {
    std::remove(temp.c_str());
    fail("cannot write {}: {}", path, std::strerror(write_errno));
  }
  if (std::rename(temp.c_str(), target.c_str()) != 0) {
    const int rename_errno = errno;
    std::remove(temp.c_str());
    fail("cannot replace {}: {}", path, std::strerror(rename_errno));
  }
}

}  // namespace alpha::perf
