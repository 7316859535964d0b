// A run directory (runs/<name>/) as the commands after training see it: config.json's options and
// model shape, the tokenizer file, and its checkpoints. `alpha train --resume`, `sample`, `eval` and
// `export` all find and open runs through here.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/gpt/config.h"
#include "engine/train/checkpoint.h"
#include "engine/train/trainer.h"
#include "tokenizer/tokenizer.h"

namespace alpha::train {

struct Run {
  std::filesystem::path dir;
  nlohmann::json config;                // config.json as written by the trainer
  TrainOptions options;                 // the run's resolved options
  gpt::GptConfig model;                 // n_layer, n_head, n_embd, seq_len, vocab_size of the run
  std::filesystem::path tokenizer;      // the tokenizer file the run trained with
  std::string tokenizer_hash;           // as recorded in config.json and every checkpoint
};

// `spec` is a run directory, a run name under runs_dir, or empty for the most recently trained run
// there. Throws alpha::Error when there is no such run.
std::filesystem::path find_run(const std::string& spec, const std::filesystem::path& runs_dir);

// Reads config.json; a missing or foreign one is a clear error.
Run open_run(const std::filesystem::path& dir);

// `which`: empty for the newest checkpoint that reads cleanly (a corrupt newer one is skipped with a
// warning on stderr), "best" for the best-by-validation-loss one, a step number, or a file path.
// A checkpoint of another tokenizer or with another parameter count than the run's model is refused.
Checkpoint load_run_checkpoint(const Run& run, const std::string& which = "");

// The run's tokenizer; a missing file, or one that is not the tokenizer the run trained with (its hash
// differs from config.json's), is a clear error.
tok::Tokenizer load_run_tokenizer(const Run& run);

// TrainOptions <-> the option fields of config.json.
nlohmann::json options_to_json(const TrainOptions& options);
TrainOptions options_from_json(const nlohmann::json& json, const std::filesystem::path& where);

}  // namespace alpha::train
