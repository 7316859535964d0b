// Per-device matmul tiles chosen by measurement (`alpha bench --tune`, and alpha train's first run
// on a GPU): the winning tile of the tiled kernel is saved next to the pipeline cache, one file per
// device and driver (vk::device_cache_key), and default_matmul_tile() takes it from then on.
// ALPHA_MATMUL_TILE still overrides it. The texel and matrix-core kernels have fixed shapes.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/ops/matmul.h"
#include "engine/vk/device_info.h"

namespace alpha::ops {

struct MatmulTuning {
  MatmulTile tile;
  std::string shapes;    // what it was measured on, e.g. "d6 (B·T 2048)"
  std::string measured;  // when, UTC
};

// cache_dir()/matmul-tile-KEY.json; empty when there is no cache directory.
std::filesystem::path matmul_tuning_path(const vk::DeviceInfo& info);

// The saved tuning, nullopt when there is none. A file that does not parse or names an unusable
// tile is ignored with one warning on stderr (a cache never stops a run).
std::optional<MatmulTuning> load_matmul_tuning(const vk::DeviceInfo& info);

// load_matmul_tuning's tile, read once per device and process.
std::optional<MatmulTile> tuned_matmul_tile(const vk::DeviceInfo& info);

// Writes the tuning (temp file and rename: a crash leaves the old one) with the per-candidate times
// in `measurements`, and makes it this process's tile for the device. Throws alpha::Error when the
// file cannot be written.
void save_matmul_tuning(const vk::DeviceInfo& info, const MatmulTuning& tuning,
                        const std::string& measurements_json);

// The tiles a tuning run times on this device: the default first, every one fitting its limits.
std::vector<MatmulTile> matmul_tile_candidates(const vk::DeviceInfo& info);

}  // namespace alpha::ops
