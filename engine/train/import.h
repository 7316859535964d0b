// `alpha import`: a Hugging Face GPT-2 folder as a new run directory that `alpha sample`, `eval`
// and `export` open like a trained one. "safetensors" reads model.safetensors (F32, F16 or BF16;
// the tensors of GPT2Model or GPT2LMHeadModel, see engine/gpt/hf_gpt2.h), config.json (a
// GPT2Config) and the tokenizer: alpha's tokenizer.bin (what `alpha export` writes) if present,
// else Hugging Face's vocab.json + merges.txt, else OpenAI's encoder.json + vocab.bpe. The run gets
// config.json (the model, the options eval and sample read, "imported": where from), tokenizer.bin
// and a step-0 checkpoint (the parameters, zero AdamW state). Everything is read and checked before
// anything is written; the run is built in a temporary folder and renamed into place, so a failure
// leaves nothing behind. Continuing training from it is not this file's business.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/gpt/config.h"

namespace alpha::train {

struct ImportOptions {
  std::filesystem::path dir;  // the folder to import
  std::string format = "safetensors";
  std::string run;  // run name; default: the folder's (its parent's for .../export)
  std::filesystem::path runs_dir = "runs";
  int seq = 0;                         // context length kept (rows of wpe); 0: n_positions
  std::string git_commit = "unknown";  // recorded in config.json
};

struct ImportResult {
  std::filesystem::path run_dir, checkpoint;
  gpt::GptConfig model;
  int64_t parameters = 0;
  int n_positions = 0;          // the source's context length
  std::string tokenizer_files;  // which files the tokenizer came from
  size_t vocab_size = 0;
  std::optional<uint32_t> end_of_text;  // <|endoftext|>'s id
  std::map<std::string, int> dtypes;    // tensors read per dtype of the file
  std::vector<std::string> ignored;     // buffers of the file that are not parameters
};

// The formats import_run knows, comma-separated, for --help and errors.
std::string import_formats();
// Throws alpha::Error listing the supported formats when `format` is not one of them.
void check_import_format(const std::string& format);

// Reads options.dir and writes runs_dir/<run>; an existing run of that name is refused. Every
// problem is a one-line alpha::Error naming the file and what is wrong.
ImportResult import_run(const ImportOptions& options);

}  // namespace alpha::train
