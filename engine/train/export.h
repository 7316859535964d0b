// `alpha export`: a run's checkpoint in formats other tools load. "safetensors" writes, into one
// folder, model.safetensors (Hugging Face GPT-2 tensor names and conventions, see
// engine/gpt/hf_gpt2.h), config.json (GPT2Config) and tokenizer.bin (the run's tokenizer as an
// alpha tokenizer artifact; transformers cannot read it). Each file is written atomically: a failed
// export leaves no partial file and never damages an earlier export in the same folder.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "engine/train/checkpoint.h"
#include "engine/train/run.h"

namespace alpha::train {

// The formats export_run knows, comma-separated, for --help and errors.
std::string export_formats();
// Throws alpha::Error listing the supported formats when `format` is not one of them.
void check_export_format(const std::string& format);

// Writes the export into out_dir (created if needed) and returns the files written. An unknown
// format is an alpha::Error listing the supported ones.
std::vector<std::filesystem::path> export_run(const Run& run, const Checkpoint& checkpoint,
                                              const std::string& format,
                                              const std::filesystem::path& out_dir);

}  // namespace alpha::train
