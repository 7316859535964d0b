// Finding and opening run directories (see run.h).
#include "engine/train/run.h"

#include <cstdio>
#include <fstream>
#include <optional>

#include "common/error.h"
#include "engine/gpt/parameters.h"
#include "tokenizer/load.h"

namespace alpha::train {

namespace fs = std::filesystem;

fs::path find_run(const std::string& spec, const fs::path& runs_dir) {
  if (!spec.empty()) {
    if (fs::exists(fs::path(spec) / "config.json")) return spec;
    if (fs::exists(runs_dir / spec)) return runs_dir / spec;
    fail("no such run {}: neither a run directory nor a run name under {}", spec, runs_dir.string());
  }
  fs::path newest;
  fs::file_time_type newest_time{};
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(runs_dir, error)) {
    if (!fs::exists(entry.path() / "config.json")) continue;
    const auto time = fs::last_write_time(entry.path() / "metrics.jsonl", error);
    if (!error && (newest.empty() || time > newest_time)) newest = entry.path(), newest_time = time;
  }
  if (newest.empty()) fail("there is no run under {}", runs_dir.string());
  return newest;
}

nlohmann::json options_to_json(const TrainOptions& o) {
  return {{"data", o.data},
          {"model", o.model},
          {"arch", o.arch},
          {"steps", o.steps},
          {"batch", o.batch},
          {"seq", o.seq},
          {"lr", o.lr},
          {"min_lr", o.min_lr},
          {"warmup", o.warmup},
          {"schedule", o.schedule},
          {"weight_decay", o.weight_decay},
          {"clip", o.clip},
          {"eval_every", o.eval_every},
          {"eval_batches", o.eval_batches},
          {"seed", o.seed},
          {"vocab", o.vocab},
          {"run", o.run},
          {"runs_dir", o.runs_dir.string()},
          {"tokenizer", o.tokenizer_artifacts.string()},
          {"cache_dir", o.cache_dir.string()},
          {"ckpt_every", o.ckpt_every},
          {"keep", o.keep},
          {"max_bad_steps", o.max_bad_steps},
          {"sample_every", o.sample_every},
          {"sample_tokens", o.sample_tokens},
          {"grad_accum", o.grad_accum},
          {"tokens", o.tokens},
          {"eval_tokens", o.eval_tokens},
          {"mlp", o.mlp},
          {"precision", o.precision}};
}

TrainOptions options_from_json(const nlohmann::json& j, const fs::path& where) {
  try {
    TrainOptions o;
    o.data = j.at("data").get<std::vector<std::string>>();
    o.arch = j.value("arch", "gpt2");  // runs of earlier versions are GPT-2
    o.mlp = j.value("mlp", "");        // and have the arch's MLP
    o.precision = j.value("precision", "fp32");  // and trained in fp32
    o.model = j.at("model"), o.steps = j.at("steps"), o.batch = j.at("batch"), o.seq = j.at("seq");
    o.lr = j.at("lr"), o.min_lr = j.at("min_lr"), o.warmup = j.at("warmup"), o.schedule = j.at("schedule");
    o.weight_decay = j.at("weight_decay"), o.clip = j.at("clip"), o.eval_every = j.at("eval_every");
    o.eval_batches = j.at("eval_batches"), o.seed = j.at("seed"), o.vocab = j.at("vocab"), o.run = j.at("run");
    o.runs_dir = j.at("runs_dir").get<std::string>();
    o.tokenizer_artifacts = j.at("tokenizer").get<std::string>();
    o.cache_dir = j.at("cache_dir").get<std::string>();
    o.ckpt_every = j.at("ckpt_every"), o.keep = j.at("keep");
    o.max_bad_steps = j.value("max_bad_steps", o.max_bad_steps);  // optional: runs of earlier versions lack them
    o.sample_every = j.value("sample_every", 0), o.sample_tokens = j.value("sample_tokens", o.sample_tokens);
    o.grad_accum = j.value("grad_accum", 1), o.tokens = j.value("tokens", int64_t(0));
    o.eval_tokens = j.value("eval_tokens", int64_t(0));
    return o;
  } catch (const nlohmann::json::exception& e) {
    fail("{} does not hold a run's options ({}): is it a run directory of this alpha?", where.string(), e.what());
  }
}

Run open_run(const fs::path& dir) {
  const auto path = dir / "config.json";
  if (!fs::exists(path)) fail("{} is not a run directory (no config.json)", dir.string());
  std::ifstream in(path);
  Run run{dir, nlohmann::json::parse(in, nullptr, false)};
  if (run.config.is_discarded()) fail("{} is not valid JSON", path.string());
  run.options = options_from_json(run.config, path);
  try {
    run.model.n_layer = run.config.at("n_layer"), run.model.n_head = run.config.at("n_head");
    run.model.n_embd = run.config.at("n_embd"), run.model.seq_len = run.config.at("seq_len");
    run.model.vocab_size = run.config.at("vocab_size");
    // the architecture; runs of earlier versions have none and are GPT-2
    if (run.config.contains("architecture")) run.model.read_arch_json(run.config.at("architecture"));
    // the run's own copy wherever the run directory has moved; else the path it was trained with
    run.tokenizer = fs::exists(dir / "tokenizer.bin") ? dir / "tokenizer.bin"
                                                       : fs::path(run.config.at("tokenizer").get<std::string>());
    run.tokenizer_hash = run.config.at("tokenizer_hash");
  } catch (const nlohmann::json::exception& e) {
    fail("{} lacks the model shape or tokenizer ({})", path.string(), e.what());
  }
  run.model.validate();
  return run;
}

Checkpoint load_run_checkpoint(const Run& run, const std::string& which) {
  std::optional<Checkpoint> checkpoint;
  if (which.empty()) {
    for (const auto& path : list_checkpoints(run.dir)) {
      try {
        checkpoint = read_checkpoint(path);
        break;
      } catch (const Error& e) {
        std::fprintf(stderr, "warning: %s; trying the previous checkpoint\n", e.what());
      }
    }
    if (!checkpoint) fail("{} has no valid checkpoint", run.dir.string());
  } else if (which == "best") {
    if (!fs::exists(best_checkpoint_path(run.dir)))
      fail("{} has no best checkpoint (it is written at validation passes)", run.dir.string());
    checkpoint = read_checkpoint(best_checkpoint_path(run.dir));
  } else if (which.size() < 9 && which.find_first_not_of("0123456789") == std::string::npos) {
    const auto path = checkpoint_path(run.dir, std::stoi(which));
    if (!fs::exists(path)) fail("{} has no checkpoint at step {}", run.dir.string(), which);
    checkpoint = read_checkpoint(path);
  } else {
    checkpoint = read_checkpoint(which);
  }
  if (checkpoint->meta.value("tokenizer_hash", "") != run.tokenizer_hash)
    fail("the checkpoint at step {} was trained with another tokenizer than run {}", checkpoint->step,
         run.dir.string());
  const int64_t floats = gpt::ParameterLayout(run.model).total_floats;
  if (static_cast<int64_t>(checkpoint->params.size()) != floats)
    fail("the checkpoint at step {} holds {} parameters, run {}'s model {} has {}: another model config",
         checkpoint->step, checkpoint->params.size(), run.dir.string(), run.model.describe(), floats);
  // checkpoints of earlier versions carry no architecture: they are GPT-2, as their runs are
  gpt::GptConfig saved = run.model;
  saved = gpt::GptConfig::with_arch(saved, "gpt2");
  if (checkpoint->meta.contains("architecture")) saved.read_arch_json(checkpoint->meta.at("architecture"));
  if (saved.arch_json() != run.model.arch_json())
    fail("the checkpoint at step {} is of another architecture ({}) than run {} ({})", checkpoint->step,
         checkpoint->meta.at("architecture").dump(), run.dir.string(), run.model.arch_json().dump());
  return *checkpoint;
}

tok::Tokenizer load_run_tokenizer(const Run& run) {
  if (!fs::exists(run.tokenizer)) fail("the tokenizer of run {} ({}) is missing", run.dir.string(), run.tokenizer.string());
  auto tokenizer = tok::load_tokenizer(run.tokenizer);
  if (fmt::format("{:016x}", tokenizer.hash()) != run.tokenizer_hash)
    fail("{} is not the tokenizer run {} trained with (its hash differs from config.json's)", run.tokenizer.string(),
         run.dir.string());
  return tokenizer;
}

}  // namespace alpha::train
