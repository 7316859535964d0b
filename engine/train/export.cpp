// Run export (see export.h).
#include "engine/train/export.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "common/error.h"
#include "engine/gpt/gguf.h"
#include "engine/gpt/gguf_gpt2.h"
#include "engine/gpt/hf_gpt2.h"
#include "engine/gpt/parameters.h"
#include "engine/gpt/safetensors.h"
#include "tokenizer/artifact.h"
#include "tokenizer/file_io.h"
#include "tokenizer/tokenizer.h"

namespace alpha::train {

namespace fs = std::filesystem;

static const std::vector<std::string> kFormats = {"safetensors", "gguf"};

std::string export_formats() {
  std::string list;
  for (const auto& format : kFormats) list += (list.empty() ? "" : ", ") + format;
  return list;
}

void check_export_format(const std::string& format) {
  if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end())
    fail("unknown export format '{}': supported formats are {}", format, export_formats());
}

void check_export_dtype(const std::string& format, const std::string& dtype) {
  if (dtype != "f32" && dtype != "f16")
    fail("unknown export dtype '{}': supported dtypes are f32 and f16 (f16 with --format=gguf)", dtype);
  if (dtype == "f16" && format != "gguf")
    fail("--dtype=f16 is for --format=gguf; {} export writes f32 only", format);
}

namespace {

// The ids a GPT-2 config and a GGUF vocabulary name as bos/eos. Documents start with <|bos|> where the
// tokenizer has one (the token cache's separator).
std::pair<std::optional<uint32_t>, std::optional<uint32_t>> bos_eos(const tok::Tokenizer& tokenizer) {
  auto bos = tokenizer.special_id("<|bos|>"), eos = tokenizer.special_id("<|endoftext|>");
  if (!bos) bos = eos;
  if (!eos) eos = bos;
  return {bos, eos};
}

std::vector<fs::path> export_safetensors(const Run& run, const Checkpoint& checkpoint,
                                         const fs::path& out_dir) {
  if (!run.model.is_gpt2())
    fail("run {} is not a gpt2-architecture model ({}); Hugging Face export writes GPT-2 files only", run.dir.string(),
         run.model.describe());
  const auto tokenizer = load_run_tokenizer(run);
  const gpt::ParameterLayout layout(run.model);
  const auto tensors = gpt::hf_gpt2_tensors(layout, checkpoint.params);
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"},  // transformers refuses safetensors files without a format it knows
      {"alpha_run", run.options.run},
      {"alpha_step", std::to_string(checkpoint.step)},
      {"alpha_model", run.model.describe()},
      {"alpha_tokenizer_hash", run.tokenizer_hash}};
  const auto [bos, eos] = bos_eos(tokenizer);

  const std::vector<fs::path> files = {out_dir / "model.safetensors", out_dir / "config.json",
                                       out_dir / "tokenizer.bin"};
  tok::write_file_atomic(files[0], gpt::safetensors_bytes(tensors, metadata));
  tok::write_file_atomic(files[1], gpt::hf_gpt2_config(run.model, bos, eos).dump(2) + "\n");
  tok::write_file_atomic(files[2], tok::serialize_artifact(tokenizer));
  return files;
}

std::vector<fs::path> export_gguf(const Run& run, const Checkpoint& checkpoint, const fs::path& out_dir,
                                  bool f16) {
  if (!run.model.is_gpt2())
    fail("GGUF export supports the gpt2 architecture only for now; run {} is another one ({})",
         run.dir.string(), run.model.describe());
  const auto tokenizer = load_run_tokenizer(run);
  const auto [bos, eos] = bos_eos(tokenizer);
  auto metadata = gpt::gguf_gpt2_metadata(run.model, run.options.run, f16,
                                          gpt::gguf_gpt2_vocab(tokenizer, bos, eos));
  // Where the file came from (llama.cpp ignores keys it does not know).
  metadata.push_back({"alpha.step", static_cast<uint32_t>(checkpoint.step)});
  metadata.push_back({"alpha.tokenizer_hash", run.tokenizer_hash});
  const gpt::ParameterLayout layout(run.model);
  const auto tensors = gpt::gguf_gpt2_tensors(layout, checkpoint.params, f16);
  const std::vector<fs::path> files = {out_dir / "model.gguf"};
  tok::write_file_atomic(files[0], gpt::gguf_bytes(metadata, tensors));
  return files;
}

}  // namespace

std::vector<fs::path> export_run(const Run& run, const Checkpoint& checkpoint,
                                 const std::string& format, const fs::path& out_dir,
                                 const std::string& dtype) {
  check_export_format(format);
  check_export_dtype(format, dtype);
  if (format == "gguf") return export_gguf(run, checkpoint, out_dir, dtype == "f16");
  return export_safetensors(run, checkpoint, out_dir);
}

}  // namespace alpha::train
