// Training checkpoints: everything that defines the next step (parameters, AdamW m and v, the step,
// the batch loader's position, the resolved options, the tokenizer's hash) in one file, written
// atomically (temp file, fsync, rename) with an XXH64 checksum; a truncated or corrupted file is
// refused with a clear message. Listing and pruning the checkpoints of a run live here too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

namespace alpha::train {

struct Checkpoint {
  int step = 0;            // optimizer steps done
  nlohmann::json meta;     // options, model config, loader state, tokenizer hash
  std::vector<float> params, adam_m, adam_v;  // whole buffers in the parameter layout
};

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& checkpoint);
// Throws alpha::Error naming the file and what is wrong with it.
Checkpoint read_checkpoint(const std::filesystem::path& path);

// checkpoints/step-NNNNNNNN.ckpt, newest (highest step) first.
std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir);
std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, int step);
// checkpoints/best.ckpt: the checkpoint with the lowest validation loss so far (never pruned).
std::filesystem::path best_checkpoint_path(const std::filesystem::path& run_dir);
// Deletes all but the newest `keep` checkpoints, and the temporary files of writers that were
// killed mid-write (NAME.ckpt.tmpPID of another process).
void prune_checkpoints(const std::filesystem::path& run_dir, int keep);

}  // namespace alpha::train
