#include "engine/ops/matmul_tuning.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/vk/pipeline.h"

namespace alpha::ops {

std::filesystem::path matmul_tuning_path(const vk::DeviceInfo& info) {
  const auto dir = vk::cache_dir();
  if (dir.empty()) return {};
  return dir / fmt::format("matmul-tile-{}.json", vk::device_cache_key(info));
}

static bool tile_fits(const vk::DeviceInfo& info, const MatmulTile& t) {
  return t.threads() <= info.max_workgroup_invocations &&
         (t.bm + t.bn) * t.bk * 4 <= info.max_shared_memory;
}

std::optional<MatmulTuning> load_matmul_tuning(const vk::DeviceInfo& info) {
  const auto path = matmul_tuning_path(info);
  std::error_code error;
  if (path.empty() || !std::filesystem::exists(path, error)) return std::nullopt;
  try {
    std::ifstream file(path);
    const auto j = nlohmann::json::parse(file);
    MatmulTuning tuning{parse_matmul_tile(j.at("tile").get<std::string>()), j.value("shapes", ""),
                        j.value("measured", "")};
    if (!tile_fits(info, tuning.tile))
      fail("tile {} does not fit this device", tuning.tile.to_string());
    return tuning;
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "warning: ignoring the matmul tuning %s: %s (alpha bench --tune writes it anew)\n",
                 path.c_str(), e.what());
    return std::nullopt;
  }
}

// Each device's tuned tile, read once per process (default_matmul_tile asks at every matmul).
static std::mutex tuned_mutex;
static std::map<std::string, std::optional<MatmulTile>> tuned_tiles;

std::optional<MatmulTile> tuned_matmul_tile(const vk::DeviceInfo& info) {
  std::lock_guard lock(tuned_mutex);
  const auto key = vk::device_cache_key(info);
  auto found = tuned_tiles.find(key);
  if (found == tuned_tiles.end()) {
    const auto tuning = load_matmul_tuning(info);
    found = tuned_tiles.emplace(key, tuning ? std::optional(tuning->tile) : std::nullopt).first;
  }
  return found->second;
}

void save_matmul_tuning(const vk::DeviceInfo& info, const MatmulTuning& tuning,
                        const std::string& measurements_json) {
  const auto path = matmul_tuning_path(info);
  if (path.empty())
    fail("--tune: no cache directory (set ALPHA_CACHE_DIR, XDG_CACHE_HOME or HOME)");
  nlohmann::json j = {{"device", info.name},
                      {"driver", info.driver_name + " " + info.driver_info},
                      {"tile", tuning.tile.to_string()},
                      {"shapes", tuning.shapes},
                      {"measured", tuning.measured},
                      {"candidates", nlohmann::json::parse(measurements_json)}};
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  auto temp = path;
  temp += fmt::format(".tmp{}", static_cast<long>(::getpid()));
  {
    std::ofstream file(temp);
    file << j.dump(2) << "\n";
    if (!file.flush()) fail("--tune: cannot write {}", temp.string());
  }
  std::filesystem::rename(temp, path, error);
  if (error) fail("--tune: cannot write {}: {}", path.string(), error.message());
  std::lock_guard lock(tuned_mutex);
  tuned_tiles[vk::device_cache_key(info)] = tuning.tile;
}

std::vector<MatmulTile> matmul_tile_candidates(const vk::DeviceInfo& info) {
  std::vector<MatmulTile> all;
  if (info.type ==
      VK_PHYSICAL_DEVICE_TYPE_CPU)  // matmul_cpu.comp's shapes, then the portable kernel
    all = {{128, 16, 4, 16, 16}, {64, 16, 4, 8, 16}, {64, 64, 16, 8, 8}};
  else  // register-blocked SGEMM tiles around the default 64x64x16x4x4
    all = {{64, 64, 16, 4, 4},  {128, 64, 16, 8, 4}, {64, 128, 16, 4, 8}, {128, 128, 16, 8, 8},
           {128, 128, 8, 8, 8}, {32, 32, 16, 2, 2},  {64, 64, 32, 4, 4}};
  std::vector<MatmulTile> fitting;
  for (const auto& t : all)
    if (tile_fits(info, t)) fitting.push_back(t);
  return fitting;
}

}  // namespace alpha::ops
