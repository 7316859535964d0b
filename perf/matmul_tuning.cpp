#include "perf/matmul_tuning.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/ops/matmul_tuning.h"

namespace alpha::perf {

TuneResult tune_matmul_tile(vk::Context& context, const std::vector<MatmulCase>& cases,
                            const std::string& shapes, MatmulBenchOptions options) {
  TuneResult result{cases, {}, {}};
  options.naive = false;
  const TuneCandidate* best = nullptr;
  for (const auto& tile : ops::matmul_tile_candidates(context.info())) {
    TuneCandidate candidate{tile, 0, {}, ""};
    options.tile = tile;
    try {
      for (const auto& r : bench_matmul(context, cases, options)) {
        candidate.case_ms.push_back(r.median_ms);
        candidate.total_ms += r.median_ms;
      }
    } catch (const Error& e) {  // a tile the device's compiler or limits refuse is skipped
      candidate = {tile, 0, {}, e.what()};
    }
    result.candidates.push_back(candidate);
  }
  nlohmann::json measurements = nlohmann::json::array();
  for (const auto& c : result.candidates) {
    measurements.push_back(
        {{"tile", c.tile.to_string()}, {"total_ms", c.total_ms}, {"case_ms", c.case_ms}});
    if (!c.error.empty()) measurements.back()["error"] = c.error;
    if (c.error.empty() && (!best || c.total_ms < best->total_ms)) best = &c;
  }
  if (!best) fail("--tune: no matmul tile ran on {}", context.info().name);
  result.winner = best->tile;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  ops::save_matmul_tuning(
      context.info(), {best->tile, shapes, fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(now))},
      measurements.dump());
  return result;
}

bool tune_before_training(vk::Context& context, const gpt::GptConfig& config, const std::string& model,
                          int64_t tokens, const std::string& mode) {
  if (mode != "auto" && mode != "on" && mode != "off")
    fail("--tune is '{}': expected auto, on or off", mode);
  const auto& info = context.info();
  const char* forced_tile = std::getenv("ALPHA_MATMUL_TILE");
  if (mode == "off" ||
      (mode == "auto" && (info.type == VK_PHYSICAL_DEVICE_TYPE_CPU || (forced_tile && *forced_tile) ||
                          ops::load_matmul_tuning(info))))
    return false;
  const std::string shapes = fmt::format("{} at B·T {}", model, tokens);
  fmt::print("tuning the matmul tile for {} at {}'s linear layers ({}; --tune=off skips this)\n",
             info.name, model, mode == "on" ? "--tune=on" : "first run on this device and driver");
  std::fflush(stdout);
  MatmulBenchOptions options;
  options.iters = 3;
  options.warmup = 1;
  options.budget_ms = 1000;
  const auto result = tune_matmul_tile(context, gpt_matmul_cases(model, config, tokens), shapes, options);
  fmt::print("tuned: matmul tile {} saved in {}\n", result.winner.to_string(),
             ops::matmul_tuning_path(info).string());
  return true;
}

}  // namespace alpha::perf
