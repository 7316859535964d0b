// Run export (see export.h).
#include "engine/train/export.h"

#include <algorithm>

#include "common/error.h"
#include "engine/gpt/hf_gpt2.h"
#include "engine/gpt/parameters.h"
#include "engine/gpt/safetensors.h"
#include "tokenizer/artifact.h"
#include "tokenizer/file_io.h"

namespace alpha::train {

namespace fs = std::filesystem;

static const std::vector<std::string> kFormats = {"safetensors"};

std::string export_formats() {
  std::string list;
  for (const auto& format : kFormats) list += (list.empty() ? "" : ", ") + format;
  return list;
}

void check_export_format(const std::string& format) {
  if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end())
    fail("unknown export format '{}': supported formats are {}", format, export_formats());
}

namespace {

std::vector<fs::path> export_safetensors(const Run& run, const Checkpoint& checkpoint,
                                         const fs::path& out_dir) {
  const auto tokenizer = load_run_tokenizer(run);
  const gpt::ParameterLayout layout(run.model);
  const auto tensors = gpt::hf_gpt2_tensors(layout, checkpoint.params);
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"},  // transformers refuses safetensors files without a format it knows
      {"alpha_run", run.options.run},
      {"alpha_step", std::to_string(checkpoint.step)},
      {"alpha_model", run.model.describe()},
      {"alpha_tokenizer_hash", run.tokenizer_hash}};
  // Documents start with <|bos|> where the tokenizer has one (the token cache's separator).
  auto bos = tokenizer.special_id("<|bos|>"), eos = tokenizer.special_id("<|endoftext|>");
  if (!bos) bos = eos;
  if (!eos) eos = bos;

  const std::vector<fs::path> files = {out_dir / "model.safetensors", out_dir / "config.json",
                                       out_dir / "tokenizer.bin"};
  tok::write_file_atomic(files[0], gpt::safetensors_bytes(tensors, metadata));
  tok::write_file_atomic(files[1], gpt::hf_gpt2_config(run.model, bos, eos).dump(2) + "\n");
  tok::write_file_atomic(files[2], tok::serialize_artifact(tokenizer));
  return files;
}

}  // namespace

std::vector<fs::path> export_run(const Run& run, const Checkpoint& checkpoint,
                                 const std::string& format, const fs::path& out_dir) {
  check_export_format(format);
  return export_safetensors(run, checkpoint, out_dir);
}

}  // namespace alpha::train
