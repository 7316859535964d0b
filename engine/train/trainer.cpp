// The training loop (see trainer.h).
#include "engine/train/trainer.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <fstream>
#include <numbers>
#include <optional>
#include <span>

#include "common/error.h"
#include "engine/gpt/flops.h"
#include "engine/gpt/generate.h"
#include "engine/gpt/init.h"
#include "engine/gpt/model.h"
#include "engine/train/checkpoint.h"
#include "engine/train/data/batch_loader.h"
#include "engine/train/data/token_cache.h"
#include "engine/train/run.h"
#include "engine/train/run_state.h"
#include "tokenizer/file_io.h"
#include "tokenizer/load.h"

namespace alpha::train {

void TrainOptions::validate() const {
  if (data.empty()) fail("no training data: pass --data=PATH (a text file, folder, glob or .jsonl)");
  if (steps <= 0) fail("--steps must be positive, not {}", steps);
  if (batch <= 0) fail("--batch must be positive, not {}", batch);
  if (seq <= 0) fail("--seq must be positive, not {}", seq);
  if (!(lr > 0) || !std::isfinite(lr)) fail("--lr must be a positive number, not {}", lr);
  if (!(min_lr >= 0) || min_lr > lr) fail("--min-lr must be between 0 and --lr ({}), not {}", lr, min_lr);
  if (warmup < 0) fail("--warmup must not be negative");
  if (schedule != "cosine" && schedule != "linear" && schedule != "constant")
    fail("--schedule={} is not one of cosine, linear, constant", schedule);
  if (!(weight_decay >= 0)) fail("--weight-decay must not be negative");
  if (eval_every < 0 || eval_batches <= 0) fail("--eval-every must be >= 0 and --eval-batches positive");
  if (grad_accum < 1) fail("--grad-accum must be at least 1, not {}", grad_accum);
  if (tokens < 0 || eval_tokens < 0) fail("--tokens and --eval-tokens must not be negative");
  if (ckpt_every < 0) fail("--ckpt-every must not be negative");
  if (keep < 1) fail("--keep must be at least 1, not {}", keep);
  if (max_bad_steps < 1) fail("--max-bad-steps must be at least 1, not {}", max_bad_steps);
  if (sample_every < 0 || sample_tokens < 1) fail("--sample-every must be >= 0 and --sample-tokens positive");
  if (precision != "fp32" && precision != "fp16" && precision != "bf16" && precision != "auto")
    fail("--precision={} is not one of {}", precision, gpt::precision_choices());
}

void TrainOptions::resolve_counts() {
  const int64_t per_step = int64_t(batch) * seq * grad_accum, per_batch = int64_t(batch) * seq;
  if (tokens > 0 && per_step > 0) steps = static_cast<int>(std::min<int64_t>((tokens + per_step - 1) / per_step, 1 << 30));
  if (eval_tokens > 0 && per_batch > 0)
    eval_batches = static_cast<int>(std::min<int64_t>((eval_tokens + per_batch - 1) / per_batch, 1 << 20));
}

float learning_rate(const TrainOptions& o, int step) {
  if (step < o.warmup) return o.lr * static_cast<float>(step + 1) / static_cast<float>(o.warmup);
  if (o.schedule == "constant") return o.lr;
  const int decay_steps = std::max(1, o.steps - o.warmup - 1);
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup) / decay_steps);
  const double shape = o.schedule == "linear" ? 1.0 - progress : 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
  return static_cast<float>(o.min_lr + (o.lr - o.min_lr) * shape);
}

namespace {

std::string default_run_name(const std::string& model) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  return fmt::format("{}-{:%Y%m%d-%H%M%S}", model, fmt::localtime(now));
}

// Splits a loader batch of B windows of T+1 ids into inputs (B,T) and next-token targets (B,T).
void split_windows(const std::vector<int32_t>& windows, int B, int T, std::span<int32_t> tokens,
                   std::span<int32_t> targets) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      tokens[b * T + t] = windows[b * (T + 1) + t];
      targets[b * T + t] = windows[b * (T + 1) + t + 1];
    }
}

std::atomic<bool> stop_requested{false};

// Keeps the metrics lines of steps <= `step` (a resumed run rewrites what came after its checkpoint).
void truncate_metrics(const std::filesystem::path& path, int step) {
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("step") && j["step"].get<int>() <= step) kept += line + "\n";
  }
  tok::write_file_atomic(path, kept);
}

// Shared by train() and resume(): `checkpoint` is null for a new run.
std::filesystem::path run_training(vk::Context& context, const TrainOptions& options,
                                   const std::filesystem::path& run_dir, const Checkpoint* checkpoint,
                                   const std::function<void(const StepReport&)>& progress) {
  options.validate();
  // bad names fail before any work
  const gpt::GptConfig preset = gpt::GptConfig::preset(options.model, options.arch, options.mlp);

  // Setup (tokenizer, token shards, model): if anything fails for a new run, the run directory this
  // call created is removed again, so a bad --data leaves nothing behind.
  const bool created = !std::filesystem::exists(run_dir);
  std::filesystem::create_directories(run_dir);
  // Held while this process trains the run (run_state.h): a resumed run's config.json exists
  // already, a new run's is locked once written.
  std::optional<TrainingLock> lock;
  if (checkpoint) lock.emplace(run_dir);
  const auto tokenizer_path =
      options.tokenizer_artifacts.empty() ? run_dir / "tokenizer.bin" : options.tokenizer_artifacts;
  std::optional<tok::Tokenizer> tokenizer;
  std::optional<data::PreparedData> prepared;
  std::vector<uint32_t> val_tokens;
  std::optional<data::BatchLoader> loader;
  std::optional<gpt::GptModel> model_storage;
  gpt::GptConfig config = preset;
  try {
    if (checkpoint && !std::filesystem::exists(tokenizer_path))
      fail("the run's tokenizer {} is missing; it cannot be resumed", tokenizer_path.string());
    tok::TrainOptions tokenizer_options;
    tokenizer_options.vocab_size = options.vocab;
    tokenizer = tok::load_or_train_tokenizer(tokenizer_path, options.data, tokenizer_options);
    if (checkpoint && checkpoint->meta.value("tokenizer_hash", "") != fmt::format("{:016x}", tokenizer->hash()))
      fail("the checkpoint was trained with another tokenizer than {}; it cannot be resumed", tokenizer_path.string());
    data::PrepareOptions prepare;
    prepare.cache_dir = options.cache_dir;
    prepared = data::prepare_data(options.data, *tokenizer, prepare);
    val_tokens = data::load_split(*prepared, data::Split::val);
    if (options.eval_every > 0 && val_tokens.size() < static_cast<size_t>(options.seq) + 1)
      fail("the validation split has {} tokens, fewer than one window of --seq+1 = {}: use more data, a shorter "
           "--seq or --eval-every=0",
           val_tokens.size(), options.seq + 1);
    loader.emplace(data::load_split(*prepared, data::Split::train), options.batch, options.seq, options.seed);
    config.vocab_size = static_cast<int>(tokenizer->vocab_size());
    config.seq_len = options.seq;
    model_storage.emplace(context, config, options.batch, options.seq, 0,
                          gpt::resolve_precision(options.precision, context));
  } catch (...) {
    if (created) std::filesystem::remove_all(run_dir);
    throw;
  }
  gpt::GptModel& model = *model_storage;
  const std::string tokenizer_hash = fmt::format("{:016x}", tokenizer->hash());

  int first_step = 0;
  float best_val_loss = INFINITY;  // of this run so far; best.ckpt holds its weights
  if (checkpoint) {
    best_val_loss = checkpoint->meta.value("best_val_loss", INFINITY);
    if (static_cast<int64_t>(checkpoint->params.size()) != model.layout().total_floats)
      fail("the checkpoint holds {} parameters, this run's model {} has {}: another model config",
           checkpoint->params.size(), config.describe(), model.layout().total_floats);
    model.set_parameters(checkpoint->params);
    model.set_optimizer_state(checkpoint->adam_m, checkpoint->adam_v);
    loader->restore(data::loader_state_from_json(checkpoint->meta.at("loader")));
    if (checkpoint->meta.contains("loss_scale"))  // fp16: scale on from where the run was
      model.restore_loss_scaler(checkpoint->meta.at("loss_scale").get<float>(),
                                checkpoint->meta.value("loss_scale_clean_steps", 0));
    first_step = checkpoint->step;
    truncate_metrics(run_dir / "metrics.jsonl", first_step);
  } else {
    model.set_parameters(gpt::init_parameters(config, model.layout(), options.seed));
    const auto& info = context.info();
    nlohmann::json config_json = options_to_json(options);
    config_json.update({{"n_layer", config.n_layer},
                        {"n_head", config.n_head},
                        {"n_embd", config.n_embd},
                        {"seq_len", config.seq_len},
                        {"vocab_size", config.vocab_size},
                        {"architecture", config.arch_json()},
                        {"parameters", model.layout().count()},
                        {"data_key", prepared->key},
                        {"tokenizer", tokenizer_path.string()},
                        {"tokenizer_hash", tokenizer_hash},
                        {"train_tokens", prepared->train_tokens},
                        {"val_tokens", prepared->val_tokens},
                        {"git_commit", options.git_commit},
                        {"device", info.name},
                        {"precision_used", gpt::precision_name(model.precision())},
                        {"driver", fmt::format("{} {}", info.driver_name, info.driver_info)}});
    tok::write_file_atomic(run_dir / "config.json", config_json.dump(2) + "\n");
    lock.emplace(run_dir);
  }

  // Where the loader stands after the batches of the last step taken: what a checkpoint records
  // (the loader itself is a step ahead once the next step's batches are loaded).
  data::LoaderState loader_after_step = loader->state();
  auto snapshot = [&](int step) {
    nlohmann::json meta = {{"loader", data::to_json(loader_after_step)},
                           {"tokenizer_hash", tokenizer_hash},
                           {"config", config.describe()},
                           {"architecture", config.arch_json()}};
    if (std::isfinite(best_val_loss)) meta["best_val_loss"] = best_val_loss;
    if (model.precision() == gpt::Precision::fp16)
      meta.update({{"loss_scale", model.loss_scale()},
                   {"loss_scale_clean_steps", model.loss_scaler().clean_steps()}});
    return Checkpoint{step, meta, model.parameters(), model.adam_m(), model.adam_v()};
  };
  auto save = [&](int step) {
    write_checkpoint(checkpoint_path(run_dir, step), snapshot(step));
    prune_checkpoints(run_dir, options.keep);
  };

  // samples.txt: the model continues the start of the validation text (or a new document) now and then.
  std::vector<int32_t> sample_prompt;
  for (size_t i = 0; i < std::min<size_t>(8, val_tokens.size()); ++i) sample_prompt.push_back(val_tokens[i]);
  if (sample_prompt.empty()) {
    if (const auto end = tokenizer->special_id("<|endoftext|>")) sample_prompt.push_back(static_cast<int32_t>(*end));
    else sample_prompt.push_back(0);
  }
  std::optional<gpt::GptDecoder> decoder;
  auto write_sample = [&](int step) {
    if (!decoder) decoder.emplace(context, config, 64, 0, &model.parameter_buffer());
    gpt::GenerateOptions generate;
    generate.max_tokens = options.sample_tokens;
    generate.seed = options.seed;
    std::vector<uint32_t> ids(sample_prompt.begin(), sample_prompt.end());
    const std::string prompt = tokenizer->decode(ids);
    ids.clear();
    gpt::generate(*decoder, sample_prompt, generate, [&](int32_t token) {
      ids.push_back(static_cast<uint32_t>(token));
      return true;
    });
    std::ofstream out(run_dir / "samples.txt", std::ios::app);
    out << fmt::format("--- step {}\n{}{}\n", step, prompt, tokenizer->decode(ids));
    if (!out.flush()) fail("cannot write {}", (run_dir / "samples.txt").string());
  };
  const double flops_per_token = gpt::train_flops_per_token(config, options.seq);
  uint64_t memory_bytes = 0;
  for (const auto& group : model.memory()) memory_bytes += group.bytes;

  std::ofstream metrics(run_dir / "metrics.jsonl", std::ios::app);
  const int B = options.batch, T = options.seq;
  const int K = options.grad_accum;
  // This step's batches, and the next step's, which the host loads while the device runs this one.
  std::vector<int32_t> tokens(K * B * T), targets(K * B * T), windows(B * (T + 1));
  std::vector<int32_t> next_tokens(tokens.size()), next_targets(targets.size());
  auto load_batches = [&](std::vector<int32_t>& into_tokens, std::vector<int32_t>& into_targets) {
    for (int k = 0; k < K; ++k) {
      loader->next(windows);
      split_windows(windows, B, T, std::span(into_tokens).subspan(k * B * T, B * T),
                    std::span(into_targets).subspan(k * B * T, B * T));
    }
  };
  auto validation_loss = [&] {
    data::BatchLoader val(val_tokens, B, T, options.seed + 1);  // the same batches every pass
    std::vector<int32_t> val_inputs(B * T), val_targets(B * T);
    double sum = 0;
    for (int i = 0; i < options.eval_batches; ++i) {
      val.next(windows);
      split_windows(windows, B, T, val_inputs, val_targets);
      model.set_batch(val_inputs, val_targets);
      vk::CommandStream stream(context);
      model.forward(stream, true);
      stream.submit();
      sum += model.read_loss();
    }
    return static_cast<float>(sum / options.eval_batches);
  };

  ops::AdamWConfig adamw;
  adamw.weight_decay = options.weight_decay;
  adamw.max_norm = options.clip;
  stop_requested = false;
  int bad_in_a_row = 0, skipped_total = 0;
  const auto start = std::chrono::steady_clock::now();
  if (first_step < options.steps) load_batches(tokens, targets);
  for (int step = first_step; step < options.steps; ++step) {
    adamw.lr = learning_rate(options, step);
    adamw.step = step + 1;
    const auto t0 = std::chrono::steady_clock::now();
    model.begin_step(tokens, targets, adamw, K);
    loader_after_step = loader->state();
    if (step + 1 < options.steps)
      load_batches(next_tokens, next_targets);  // while the device works
    const auto result = model.end_step();
    const auto t1 = std::chrono::steady_clock::now();
    std::swap(tokens, next_tokens);
    std::swap(targets, next_targets);
    StepReport report{step + 1, options.steps, result.loss, adamw.lr, result.grad_norm};
    report.ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    report.tokens_per_s = double(K) * B * T / (report.ms / 1000.0);
    const double elapsed = std::chrono::duration<double>(t1 - start).count();
    report.eta_s = elapsed / (step + 1 - first_step) * (options.steps - step - 1);
    report.mfu = gpt::mfu(report.tokens_per_s * flops_per_token, options.peak_flops);
    report.skipped = !std::isfinite(result.loss) || !std::isfinite(result.grad_norm);
    bad_in_a_row = report.skipped ? bad_in_a_row + 1 : 0;
    skipped_total += report.skipped;
    report.skipped_total = skipped_total;
    const bool last = step + 1 == options.steps;
    const bool eval = !report.skipped && options.eval_every > 0 && ((step + 1) % options.eval_every == 0 || last);
    if (eval) report.val_loss = validation_loss();
    nlohmann::json line = {{"step", report.step}, {"loss", report.loss}, {"lr", report.lr},
                           {"grad_norm", report.grad_norm}, {"ms", report.ms}, {"tokens_per_s", report.tokens_per_s},
                           {"memory_mb", memory_bytes / 1048576.0}};
    if (report.mfu > 0) line["mfu"] = report.mfu;
    if (model.precision() == gpt::Precision::fp16)
      line["loss_scale"] = model.loss_scale();  // for the next step
    if (eval) line["val_loss"] = report.val_loss;
    if (report.skipped) line["skipped"] = true;  // NaN/inf are not JSON: the loss shows as null
    metrics << line.dump() << "\n" << std::flush;
    if (!metrics) fail("cannot write {}", (run_dir / "metrics.jsonl").string());
    if (report.skipped) {
      std::fprintf(stderr, "warning: step %d: loss %g, gradient norm %g: not finite, step skipped (%d in a row)\n",
                   report.step, report.loss, report.grad_norm, bad_in_a_row);
      if (bad_in_a_row >= options.max_bad_steps) {
        save(step + 1);  // skipped steps changed no weight: this is the last good state
        fail("stopped at step {}: {} steps in a row had a non-finite loss or gradient; the weights before them are "
             "in {}; lower --lr or check the data",
             report.step, bad_in_a_row, checkpoint_path(run_dir, step + 1).string());
      }
    }
    if (eval && report.val_loss < best_val_loss) {
      best_val_loss = report.val_loss;
      write_checkpoint(best_checkpoint_path(run_dir), snapshot(step + 1));
    }
    progress(report);
    if (options.sample_every > 0 && !report.skipped && ((step + 1) % options.sample_every == 0 || last))
      write_sample(step + 1);
    if (last || stop_requested || (options.ckpt_every > 0 && (step + 1) % options.ckpt_every == 0)) save(step + 1);
    if (stop_requested && !last) {
      std::fprintf(stderr, "stopped after step %d; checkpoint saved (alpha train --resume=%s continues)\n", step + 1,
                   run_dir.string().c_str());
      break;
    }
  }
  return run_dir;
}

}  // namespace

void request_stop() { stop_requested = true; }

std::filesystem::path train(vk::Context& context, const TrainOptions& options,
                            const std::function<void(const StepReport&)>& progress) {
  options.validate();
  gpt::GptConfig::preset(options.model, options.arch, options.mlp);
  TrainOptions resolved = options;
  resolved.resolve_counts();
  if (resolved.run.empty()) resolved.run = default_run_name(options.model);
  const auto run_dir = options.runs_dir / resolved.run;
  // A run lives in run_dir once it has a config.json; other files (a launcher's log and pid file, as
  // `alpha fleet train` writes) do not make one.
  if (std::filesystem::exists(run_dir / "config.json"))
    fail("run directory {} already exists: pick another --run name, or --resume={} to continue it", run_dir.string(),
         run_dir.string());
  return run_training(context, resolved, run_dir, nullptr, progress);
}

std::filesystem::path resume(vk::Context& context, const std::filesystem::path& run_dir,
                             const std::function<void(const StepReport&)>& progress) {
  const Run run = open_run(run_dir);
  if (run.config.contains("imported"))
    fail(
        "run {} was imported ({}), not trained here: it has no training data or data-loader "
        "position to resume; alpha sample and alpha eval --data=PATH open it",
        run_dir.string(), run.config["imported"].value("from", "?"));
  const Checkpoint newest = load_run_checkpoint(run);
  TrainOptions options = run.options;
  options.tokenizer_artifacts = run.tokenizer;  // the run's own copy, wherever the run has moved
  return run_training(context, options, run_dir, &newest, progress);
}

}  // namespace alpha::train
