#include "perf/matmul_tuning.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <chrono>
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

}  // namespace alpha::perf
