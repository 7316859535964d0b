// Run summaries and details for the runs dashboard (see runs_index.h). Files are read as they are
// on disk at the moment: the last line of metrics.jsonl may be half written, and is then left for
// later.
#include "serve/runs_index.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "engine/train/checkpoint.h"
#include "engine/train/run_state.h"

namespace alpha::serve {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Bytes [offset, end of file) of `path`; empty when it cannot be read.
std::string read_from(const fs::path& path, uint64_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in || !in.seekg(static_cast<std::streamoff>(offset))) return {};
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint64_t size_of(const fs::path& path) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  return error ? 0 : size;
}

// The "\n"-terminated lines of `text`; a last line without its newline is still being written.
std::vector<std::string_view> complete_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t begin = 0, end; (end = text.find('\n', begin)) != std::string_view::npos;
       begin = end + 1)
    lines.push_back(text.substr(begin, end - begin));
  return lines;
}

// One metrics.jsonl line as a row: an object with an integer step; null for anything else.
json parse_row(std::string_view line) {
  auto row = json::parse(line, nullptr, false);
  if (row.is_discarded() || !row.is_object() || !row.contains("step") ||
      !row["step"].is_number_integer())
    return nullptr;
  return row;
}

// The parsed rows at the end of `path`: at least the last eval_every + 1 lines, so that the last
// validation loss is among them when the run evaluates (the last step always does).
std::vector<json> last_rows(const fs::path& path, int eval_every) {
  const uint64_t size = size_of(path);
  for (uint64_t chunk = 64 * 1024;; chunk *= 4) {
    const uint64_t start = size > chunk ? size - chunk : 0;
    const std::string text = read_from(path, start);
    auto lines = complete_lines(text);
    if (start > 0 && !lines.empty()) lines.erase(lines.begin());  // begins mid-line
    std::vector<json> rows;
    bool validated = false;
    for (const auto line : lines)
      if (auto row = parse_row(line); !row.is_null()) {
        validated = validated || row.contains("val_loss");
        rows.push_back(std::move(row));
      }
    if (start == 0 || validated || eval_every <= 0 ||
        lines.size() > static_cast<size_t>(eval_every))
      return rows;
  }
}

json number_or_null(const json& row, const char* key) {
  return row.contains(key) && row[key].is_number() ? row[key] : json(nullptr);
}

int64_t unix_seconds(fs::file_time_type time) {
  const auto system = std::chrono::file_clock::to_sys(time);
  return std::chrono::duration_cast<std::chrono::seconds>(system.time_since_epoch()).count();
}

// When the run last wrote metrics (or, before its first step, its config).
int64_t updated_at(const fs::path& folder) {
  std::error_code error;
  auto time = fs::last_write_time(folder / "metrics.jsonl", error);
  if (error) time = fs::last_write_time(folder / "config.json", error);
  return error ? 0 : unix_seconds(time);
}

json read_config(const fs::path& folder) {
  std::ifstream in(folder / "config.json");
  auto config = json::parse(in, nullptr, false);
  return config.is_object() ? config : json::object();
}

template <typename T>
T config_value(const json& config, const char* key, T fallback) {
  return config.contains(key) && config[key].is_number() ? config[key].get<T>() : fallback;
}

// Seconds left at the mean pace of the last (up to 20) steps; validation passes and samples, which
// take their time between steps, are not counted.
json eta_seconds(const std::vector<json>& rows, int step, int steps) {
  double ms = 0;
  int counted = 0;
  for (auto row = rows.rbegin(); row != rows.rend() && counted < 20; ++row)
    if (row->contains("ms") && (*row)["ms"].is_number())
      ms += (*row)["ms"].get<double>(), ++counted;
  if (counted == 0 || step >= steps) return nullptr;
  return ms / counted * (steps - step) / 1000.0;
}

json summarize(const fs::path& folder, const json& config) {
  const int steps = config_value(config, "steps", 0);
  const auto rows = last_rows(folder / "metrics.jsonl", config_value(config, "eval_every", 0));
  const json last = rows.empty() ? json::object() : rows.back();
  const int step = last.value("step", 0);
  const auto state = train::run_state(folder, step, steps);
  json val_loss = nullptr;
  for (auto row = rows.rbegin(); row != rows.rend() && val_loss.is_null(); ++row)
    val_loss = number_or_null(*row, "val_loss");
  return {
      {"name", folder.filename().string()},
      {"state", config.contains("imported") && state != train::RunState::training
                    ? "imported"
                    : std::string(train::run_state_name(state))},
      {"step", step},
      {"steps", steps},
      {"loss", number_or_null(last, "loss")},
      {"val_loss", val_loss},
      {"tokens_per_s", number_or_null(last, "tokens_per_s")},
      {"eta_s",
       state == train::RunState::training ? eta_seconds(rows, step, steps) : json(nullptr)},
      {"updated", updated_at(folder)},
      {"model", config.value("model", "")},
      {"parameters", config_value<int64_t>(config, "parameters", 0)},
  };
}

// metrics.jsonl's rows from line `since` on (see run_details in runs_index.h).
json read_metrics(const fs::path& path, int64_t since) {
  const std::string text = read_from(path, 0);
  const auto lines = complete_lines(text);
  const auto total = static_cast<int64_t>(lines.size());
  const int64_t from = since >= 0 && since <= total ? since : 0;
  json rows = json::array();
  for (int64_t i = from; i < total; ++i)
    if (auto row = parse_row(lines[i]); !row.is_null()) rows.push_back(std::move(row));
  return {{"from", from}, {"next", total}, {"rows", std::move(rows)}};
}

// The last `count` blocks of samples.txt ("--- step N" then the text), newest first.
json latest_samples(const fs::path& path, size_t count) {
  constexpr std::string_view header = "--- step ";
  const uint64_t size = size_of(path);
  const std::string text = read_from(path, size > 64 * 1024 ? size - 64 * 1024 : 0);
  std::vector<std::pair<int, std::string>> blocks;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string_view line(text.data() + begin, end - begin);
    int step = 0;
    if (line.starts_with(header) &&
        std::from_chars(line.data() + header.size(), line.data() + line.size(), step).ec ==
            std::errc())
      blocks.emplace_back(step, "");
    else if (!blocks.empty())  // text before the first header is the end of an older block
      blocks.back().second.append(line).append("\n");
    begin = end + 1;
  }
  json samples = json::array();
  for (auto block = blocks.rbegin(); block != blocks.rend() && samples.size() < count; ++block) {
    auto& sample = block->second;
    if (!sample.empty()) sample.pop_back();  // the newline the trainer ends each sample with
    samples.push_back({{"step", block->first}, {"text", sample}});
  }
  return samples;
}

json checkpoint_steps(const fs::path& folder) {
  json steps = json::array();
  for (const auto& path : train::list_checkpoints(folder)) {
    const auto name = path.filename().string();  // step-NNNNNNNN.ckpt
    int step = 0;
    if (std::from_chars(name.data() + 5, name.data() + name.size(), step).ec == std::errc())
      steps.push_back(step);
  }
  return steps;
}

}  // namespace

std::optional<fs::path> find_run_folder(const fs::path& runs_dir, std::string_view name) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(runs_dir, error))
    if (entry.path().filename() == name && fs::exists(entry.path() / "config.json", error))
      return entry.path();
  return std::nullopt;
}

json runs_summary(const fs::path& runs_dir) {
  json runs = json::array();
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(runs_dir, error))
    if (fs::exists(entry.path() / "config.json", error))
      runs.push_back(summarize(entry.path(), read_config(entry.path())));
  std::sort(runs.begin(), runs.end(), [](const json& a, const json& b) {
    return a["updated"] != b["updated"] ? a["updated"] > b["updated"] : a["name"] < b["name"];
  });
  return {{"runs", std::move(runs)}};
}

json run_details(const fs::path& folder, int64_t since) {
  const json config = read_config(folder);
  json details = summarize(folder, config);
  details["config"] = config;
  details["checkpoints"] = checkpoint_steps(folder);
  details["samples"] = latest_samples(folder / "samples.txt", 3);
  details["metrics"] = read_metrics(folder / "metrics.jsonl", since);
  return details;
}

}  // namespace alpha::serve
