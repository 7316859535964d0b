// One entry point for `--tokenizer=PATH`: an alpha artifact file, a tiktoken rank file, or a
// folder holding GPT-2's encoder.json + vocab.bpe. Also load-or-train for --tokenizer-artifacts.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/trainer.h"

namespace alpha::tok {

Tokenizer load_tokenizer(const std::filesystem::path& path);

// Loads the artifact at `path` if it exists; otherwise trains on `inputs` (files, folders,
// globs) and saves it there atomically. `trained` (if given) says which happened.
Tokenizer load_or_train_tokenizer(const std::filesystem::path& path,
                                  const std::vector<std::string>& inputs,
                                  const TrainOptions& options, bool* trained = nullptr);

}  // namespace alpha::tok
