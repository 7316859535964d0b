// `alpha export`: a run's checkpoint in formats other tools load. "safetensors" writes, into one
// folder, model.safetensors (Hugging Face GPT-2 tensor names and conventions, see
// engine/gpt/hf_gpt2.h), config.json (GPT2Config) and tokenizer.bin (the run's tokenizer as an
// alpha tokenizer artifact; transformers cannot read it). "gguf" writes model.gguf (llama.cpp's gpt2
// architecture with the tokenizer embedded, see engine/gpt/gguf_gpt2.h) in f32 or f16. Each file is
// written atomically: a failed export leaves no partial file and never damages an earlier export in
// the same folder.
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
// The tensor dtypes: "f32" (any format) or "f16" (gguf only: its 2-D weights in f16). Throws
// alpha::Error saying what is supported when `dtype` is neither or the format cannot take it.
void check_export_dtype(const std::string& format, const std::string& dtype);

// Writes the export into out_dir (created if needed) and returns the files written. An unknown
// format or dtype is an alpha::Error listing the supported ones.
std::vector<std::filesystem::path> export_run(const Run& run, const Checkpoint& checkpoint,
                                              const std::string& format,
                                              const std::filesystem::path& out_dir,
                                              const std::string& dtype = "f32");

}  // namespace alpha::train
