// Hugging Face GPT-2 folder -> run directory (see import.h).
#include "engine/train/import.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/gpt/hf_gpt2.h"
#include "engine/gpt/parameters.h"
#include "engine/gpt/safetensors.h"
#include "engine/train/checkpoint.h"
#include "engine/train/run.h"
#include "tokenizer/artifact.h"
#include "tokenizer/file_io.h"
#include "tokenizer/gpt2_files.h"
#include "tokenizer/load.h"

namespace alpha::train {

namespace fs = std::filesystem;

std::string import_formats() {
  return "safetensors";
}

void check_import_format(const std::string& format) {
  if (format != "safetensors")
    fail("unknown import format '{}': supported formats are {}", format, import_formats());
}

namespace {

struct LoadedTokenizer {
  tok::Tokenizer tokenizer;
  std::string files;
};

// tokenizer.bin, else vocab.json + merges.txt, else encoder.json + vocab.bpe.
LoadedTokenizer load_folder_tokenizer(const fs::path& dir) {
  if (fs::exists(dir / "tokenizer.bin"))
    return {tok::load_tokenizer(dir / "tokenizer.bin"), "tokenizer.bin"};
  for (const auto& [vocab, merges] :
       {std::pair{"vocab.json", "merges.txt"}, std::pair{"encoder.json", "vocab.bpe"}}) {
    if (fs::exists(dir / vocab) && fs::exists(dir / merges))
      return {tok::load_gpt2_files(dir / vocab, dir / merges),
              fmt::format("{} + {}", vocab, merges)};
  }
  fail(
      "{}: no tokenizer: expected tokenizer.bin (alpha export's), vocab.json + merges.txt (Hugging "
      "Face's) or encoder.json + vocab.bpe (OpenAI's GPT-2 files)",
      dir.string());
}

nlohmann::json read_json(const fs::path& path) {
  if (!fs::exists(path))
    fail("{}: missing; a Hugging Face GPT-2 folder has a config.json", path.string());
  std::ifstream in(path);
  auto json = nlohmann::json::parse(in, nullptr, false);
  if (json.is_discarded()) fail("{}: not valid JSON", path.string());
  return json;
}

// The run's name: --run, else the folder's name (the run's for an `alpha export` folder).
std::string run_name(const ImportOptions& options) {
  const fs::path dir = fs::absolute(options.dir).lexically_normal();
  fs::path name = dir.filename().empty() ? dir.parent_path().filename() : dir.filename();
  if (name == "export") name = dir.parent_path().filename();
  const std::string run = options.run.empty() ? name.string() : options.run;
  if (run.empty() || run == "." || run == ".." || run.find('/') != std::string::npos)
    fail("'{}' is not a run name: pass --run=NAME (letters, digits, '-', '_', '.')", run);
  return run;
}

// The dN preset of these sizes, else "custom" (the run's "model" option; only `train` reads it).
std::string preset_name(const gpt::GptConfig& config) {
  const int depth = config.n_layer;
  if (depth <= 48 && config.n_head == depth && config.n_embd == 64 * depth)
    return fmt::format("d{}", depth);
  return "custom";
}

// Everything read from the folder and checked, before anything is written.
struct ImportedModel {
  gpt::GptConfig source;          // as config.json describes it
  gpt::HfGpt2Parameters weights;  // the run's model (seq_len possibly shortened) and parameters
  tok::Tokenizer tokenizer;
  std::string tokenizer_files;
};

ImportedModel read_folder(const ImportOptions& options) {
  const fs::path& dir = options.dir;
  const auto source =
      gpt::gpt2_config_from_hf(read_json(dir / "config.json"), (dir / "config.json").string());
  if (options.seq > source.seq_len)
    fail("--seq={} is longer than the model's context, n_positions = {}", options.seq,
         source.seq_len);
  if (!fs::exists(dir / "model.safetensors"))
    fail("{}: missing; import --format=safetensors reads the weights from it",
         (dir / "model.safetensors").string());
  const auto file = gpt::SafetensorsFile::read(dir / "model.safetensors");
  auto weights = gpt::hf_gpt2_parameters(file, source, options.seq);
  auto [tokenizer, files] = load_folder_tokenizer(dir);
  if (tokenizer.vocab_size() != static_cast<size_t>(source.vocab_size))
    fail("{}: the tokenizer ({}) has {} tokens, config.json's vocab_size is {}; they must be equal",
         dir.string(), files, tokenizer.vocab_size(), source.vocab_size);
  return {source, std::move(weights), std::move(tokenizer), std::move(files)};
}

// config.json of the run: the options sample and eval read (no training data), the model, the
// tokenizer, and where it all came from.
nlohmann::json run_config(const ImportOptions& options, const fs::path& run_dir,
                          const ImportedModel& imported) {
  const gpt::GptConfig& model = imported.weights.config;
  TrainOptions run_options;
  run_options.data = {};
  run_options.model = preset_name(model);
  run_options.steps = 0;
  run_options.batch = 1;  // eval's default batch: one window of up to n_positions at a time
  run_options.seq = model.seq_len;
  run_options.run = run_dir.filename().string();
  run_options.runs_dir = options.runs_dir;
  run_options.tokenizer_artifacts = run_dir / "tokenizer.bin";
  nlohmann::json config = options_to_json(run_options);
  config.update({{"n_layer", model.n_layer},
                 {"n_head", model.n_head},
                 {"n_embd", model.n_embd},
                 {"seq_len", model.seq_len},
                 {"vocab_size", model.vocab_size},
                 {"architecture", model.arch_json()},
                 {"parameters", gpt::ParameterLayout(model).count()},
                 {"tokenizer", run_options.tokenizer_artifacts.string()},
                 {"tokenizer_hash", fmt::format("{:016x}", imported.tokenizer.hash())},
                 {"git_commit", options.git_commit},
                 {"imported",
                  {{"format", options.format},
                   {"from", fs::absolute(options.dir).lexically_normal().string()},
                   {"tokenizer", imported.tokenizer_files},
                   {"n_positions", imported.source.seq_len},
                   {"dtypes", imported.weights.dtypes}}}});
  return config;
}

// Step 0: the parameters and zero AdamW state, with what load_run_checkpoint checks.
Checkpoint initial_checkpoint(const ImportOptions& options, ImportedModel& imported) {
  const gpt::GptConfig& model = imported.weights.config;
  Checkpoint checkpoint{0,
                        {{"tokenizer_hash", fmt::format("{:016x}", imported.tokenizer.hash())},
                         {"config", model.describe()},
                         {"architecture", model.arch_json()},
                         {"imported", options.format}},
                        std::move(imported.weights.params)};
  checkpoint.adam_m.assign(checkpoint.params.size(), 0.0f);
  checkpoint.adam_v.assign(checkpoint.params.size(), 0.0f);
  return checkpoint;
}

// Writes the run into a temporary folder beside it and renames that into place; on any failure
// the temporary folder (and a runs folder this call created) is removed again.
void write_run(const fs::path& run_dir, const nlohmann::json& config,
               const tok::Tokenizer& tokenizer, const Checkpoint& checkpoint) {
  const fs::path runs_dir = run_dir.parent_path();
  std::error_code error;
  const bool made_runs_dir = fs::create_directories(runs_dir, error);
  if (error) fail("cannot create {}: {}", runs_dir.string(), error.message());
  const fs::path temp =
      runs_dir / fmt::format(".{}.import-tmp{}", run_dir.filename().string(), getpid());
  auto clean_up = [&] {
    fs::remove_all(temp, error);
    if (made_runs_dir) fs::remove(runs_dir, error);  // only if it is still empty
  };
  try {
    fs::remove_all(temp);
    fs::create_directories(temp);
    tok::write_file_atomic(temp / "tokenizer.bin", tok::serialize_artifact(tokenizer));
    tok::write_file_atomic(temp / "config.json", config.dump(2) + "\n");
    write_checkpoint(checkpoint_path(temp, checkpoint.step), checkpoint);
    fs::rename(temp, run_dir);
    tok::sync_directory(runs_dir);
  } catch (const fs::filesystem_error& e) {
    clean_up();
    fail("cannot write the run {}: {}", run_dir.string(), e.what());
  } catch (...) {
    clean_up();
    throw;
  }
}

}  // namespace

ImportResult import_run(const ImportOptions& options) {
  check_import_format(options.format);
  if (!fs::is_directory(options.dir))
    fail("{}: no such folder (import takes one with model.safetensors, config.json, a tokenizer)",
         options.dir.string());
  if (options.seq < 0) fail("--seq must be positive, not {}", options.seq);
  const fs::path run_dir = options.runs_dir / run_name(options);
  if (fs::exists(run_dir))
    fail("run directory {} already exists: pick another --run name", run_dir.string());

  auto imported = read_folder(options);
  const auto config = run_config(options, run_dir, imported);
  write_run(run_dir, config, imported.tokenizer, initial_checkpoint(options, imported));

  const gpt::GptConfig& model = imported.weights.config;
  ImportResult result;
  result.run_dir = run_dir;
  result.checkpoint = checkpoint_path(run_dir, 0);
  result.model = model;
  result.parameters = gpt::ParameterLayout(model).count();
  result.n_positions = imported.source.seq_len;
  result.tokenizer_files = imported.tokenizer_files;
  result.vocab_size = imported.tokenizer.vocab_size();
  result.end_of_text = imported.tokenizer.special_id("<|endoftext|>");
  result.dtypes = imported.weights.dtypes;
  result.ignored = imported.weights.ignored;
  return result;
}

}  // namespace alpha::train
