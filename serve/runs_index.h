// The runs JSON API's data, read from the run folders under a runs directory: each run's state,
// step, losses, speed and ETA (runs_summary), and one run's metrics rows from a line on, its latest
// samples and its config (run_details). It only reads; a trainer may be writing the files
// meanwhile. URLs and HTTP are serve/web_routes.h's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace alpha::serve {

// The folder of the run called `name` under runs_dir: only a name the listing of runs_dir holds (a
// folder with a config.json) is found, so no name reaches a path outside runs_dir.
std::optional<std::filesystem::path> find_run_folder(const std::filesystem::path& runs_dir,
                                                     std::string_view name);

// {"runs": [one summary per run, most recently updated first]}; a summary holds name, state
// (training | finished | stopped | imported), step, steps, loss, val_loss, tokens_per_s, eta_s
// (null when not training), updated (unix seconds), model, parameters.
nlohmann::json runs_summary(const std::filesystem::path& runs_dir);

// The run in `folder`: its summary plus config, checkpoints (steps, newest first), samples (the
// latest few, newest first: step and text) and metrics: rows (the parsed lines of metrics.jsonl
// from line `since` on; lines that do not parse are left out, and a last line still being written
// waits for the next call), from (the line the rows start at: 0 when `since` is past the end, as
// after a resume rewrote the file) and next (the `since` of the next call).
nlohmann::json run_details(const std::filesystem::path& folder, int64_t since);

}  // namespace alpha::serve
