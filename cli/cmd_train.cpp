// `alpha train`: trains a GPT on text with the engine's trainer; a live progress line on a terminal,
// plain log lines otherwise. Checkpoints, --resume, sampling and export follow in later commands.
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/options.h"
#include "common/error.h"
#include "engine/train/run.h"
#include "perf/matmul_bench.h"
#include "perf/matmul_tuning.h"
#include "engine/train/trainer.h"
#include "version.h"

namespace alpha::cli {

static std::string duration(double seconds) {
  const int s = static_cast<int>(seconds);
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60) : fmt::format("{}m{:02}s", s / 60, s % 60);
}

// The device's FLOP/s on a 1024³ fp32 matmul (best tile, median of 3; about half a second on lavapipe):
// the peak that the MFU column of the progress line and metrics.jsonl divides by. ALPHA_MFU_PEAK_GFLOPS
// gives it instead (a datasheet figure, or to skip the probe).
static double matmul_peak_flops(vk::Context& context) {
  if (const char* given = std::getenv("ALPHA_MFU_PEAK_GFLOPS")) return std::atof(given) * 1e9;
  perf::MatmulBenchOptions options;
  options.iters = 3;
  options.warmup = 1;
  options.naive = false;
  const auto results = perf::bench_matmul(context, {perf::square_matmul_case(1024, false)}, options);
  return results.empty() ? 0 : results.front().gflops * 1e9;
}

// First Ctrl-C (or SIGTERM): checkpoint after the current step and exit; a second one kills.
static void on_stop_signal(int signal) {
  train::request_stop();
  std::signal(signal, SIG_DFL);
}

void add_train_command(CLI::App& app) {
  static train::TrainOptions o;
  static std::string runs_dir = "runs", tokenizer_artifacts, cache_dir = "data/cache", resume_run;
  auto* cmd = app.add_subcommand("train", "Train a GPT on text (runs/<name>/: config.json, metrics.jsonl, tokenizer)");
  cmd->add_option("--data", o.data, "Text files, folders, globs or .jsonl (\"text\" field)");
  cmd->add_option("--model", o.model, "Model preset d1..d48 (d2 tiny, d6 small, d12 = GPT-2 124M)")->capture_default_str();
  cmd->add_option("--arch", o.arch,
                  "Architecture: gpt2 (learned positions, LayerNorm, GELU, tied head) or modern (nanochat-like: "
                  "rotary, parameter-free RMSNorm, QK-norm, ReLU², untied head, logits soft-capped at 15)")
      ->capture_default_str();
  cmd->add_option(
      "--mlp", o.mlp,
      "MLP instead of --arch's: gelu (4·C wide), relu2 (ReLU², 4·C) or swiglu (silu(gate)·up, "
      "hidden 64·ceil(8C/192))");
  cmd->add_option("--precision", o.precision,
                  "fp32, fp16 (mixed: f16 matmul operands over f32 master weights, gradients and "
                  "AdamW, dynamic "
                  "loss scaling), bf16 (not built yet) or auto (fp16 on a GPU with 16-bit storage, "
                  "else fp32)")
      ->capture_default_str();
  cmd->add_option("--steps", o.steps, "Optimizer steps")->capture_default_str();
  cmd->add_option("--tokens", o.tokens, "Train on this many tokens instead of --steps (steps = tokens / (B·T·accum))");
  cmd->add_option("--batch", o.batch, "Sequences per micro-batch (B)")->capture_default_str();
  cmd->add_option("--grad-accum", o.grad_accum,
                  "Micro-batches per optimizer step (gradients summed): an effective batch of B × this")
      ->capture_default_str();
  cmd->add_option("--seq", o.seq, "Tokens per sequence (T)")->capture_default_str();
  cmd->add_option("--lr", o.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--min-lr", o.min_lr, "Learning rate at the end of the decay")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Linear warmup steps")->capture_default_str();
  cmd->add_option("--schedule", o.schedule, "cosine, linear or constant")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW weight decay (matrices and embeddings)")->capture_default_str();
  cmd->add_option("--clip", o.clip, "Clip the global gradient norm to this (0: off)")->capture_default_str();
  cmd->add_option("--eval-every", o.eval_every, "Steps between validation passes (0: none)")->capture_default_str();
  cmd->add_option("--eval-batches", o.eval_batches, "Batches per validation pass")->capture_default_str();
  cmd->add_option("--eval-tokens", o.eval_tokens, "Tokens per validation pass instead of --eval-batches");
  cmd->add_option("--seed", o.seed, "Seed for initialisation and batch order")->capture_default_str();
  cmd->add_option("--vocab", o.vocab, "Vocabulary size when a tokenizer is trained")->capture_default_str();
  cmd->add_option("--run", o.run, "Run name (default: <model>-<date>-<time>)");
  cmd->add_option("--runs-dir", runs_dir, "Where run directories go")->capture_default_str();
  cmd->add_option("--tokenizer-artifacts", tokenizer_artifacts,
                  "Tokenizer file: loaded if it exists, else trained on --data and saved there (default: in the run)");
  cmd->add_option("--cache-dir", cache_dir, "Where token shards are cached")->capture_default_str();
  cmd->add_option("--ckpt-every", o.ckpt_every, "Steps between checkpoints (0: only at the end)")->capture_default_str();
  cmd->add_option("--keep", o.keep, "Checkpoints to keep, newest first (best.ckpt, the lowest validation loss, is "
                  "kept besides)")->capture_default_str();
  cmd->add_option("--max-bad-steps", o.max_bad_steps,
                  "Stop after this many steps in a row with a non-finite loss or gradient (each is skipped)")
      ->capture_default_str();
  cmd->add_option("--sample-every", o.sample_every, "Steps between samples appended to samples.txt (0: none)")
      ->capture_default_str();
  cmd->add_option("--sample-tokens", o.sample_tokens, "Tokens per sample")->capture_default_str();
  static std::string tune_mode = "auto";
  cmd->add_option("--tune", tune_mode,
                  "Time the matmul tile candidates at the model's shapes before training and save the fastest "
                  "for the device: auto (on a GPU without a saved tile: its first run), on (any device), off")
      ->capture_default_str();
  static std::string config_file;
  cmd->add_option("--config", config_file,
                  "JSON file of options, e.g. {\"model\": \"d6\", \"steps\": 2000}; flags on the command line win");
  static CLI::Option* resume_option =
      cmd->add_option("--resume", resume_run,
                      "Continue a run from its newest valid checkpoint: a run directory, a name, or nothing for "
                      "the latest run; it keeps the run's own options")
          ->expected(0, 1);
  cmd->callback([cmd] {
    if (!config_file.empty()) apply_config_file(*cmd, config_file);
    o.runs_dir = runs_dir;
    o.tokenizer_artifacts = tokenizer_artifacts;
    o.cache_dir = cache_dir;
    o.git_commit = ALPHA_GIT_COMMIT;
    vk::Context context(context_options());
    const bool resume = resume_option->count() > 0;
    if (!resume) {  // a resumed run keeps its device's tile, tuned or not
      gpt::GptConfig config = gpt::GptConfig::preset(o.model, o.arch, o.mlp);
      if (o.vocab > 0) config.vocab_size = o.vocab;
      config.seq_len = std::max(config.seq_len, o.seq);
      perf::tune_before_training(context, config, o.model, int64_t(o.batch) * o.seq, tune_mode);
    }
    o.peak_flops = matmul_peak_flops(context);
    const bool terminal = isatty(fileno(stdout));
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    auto report = [&, log_every = 0](const train::StepReport& r) mutable {
      if (!log_every) log_every = std::max(1, r.steps / 50);
      std::string val = r.val_loss >= 0 ? fmt::format(" val {:.4f}", r.val_loss) : "";
      std::string mfu = r.mfu > 0 ? fmt::format(" mfu {:.1f}%", 100 * r.mfu) : "";
      std::string skipped = r.skipped_total > 0 ? fmt::format(" skipped {}", r.skipped_total) : "";
      std::string line = fmt::format("step {}/{} loss {:.4f}{} lr {:.2e} norm {:.3f} {:.0f} tok/s{} {:.0f} ms eta {}{}",
                                     r.step, r.steps, r.loss, val, r.lr, r.grad_norm, r.tokens_per_s, mfu, r.ms,
                                     duration(r.eta_s), skipped);
      if (terminal)
        fmt::print("\r\033[K{}{}", line, r.val_loss >= 0 || r.step == r.steps ? "\n" : "");
      else if (r.step % log_every == 0 || r.val_loss >= 0 || r.step == r.steps)
        fmt::print("{}\n", line);
      std::fflush(stdout);
    };
    const auto dir = resume ? train::resume(context, train::find_run(resume_run, runs_dir), report)
                            : train::train(context, o, report);
    fmt::print("run saved in {}\n", dir.string());
  });
}

}  // namespace alpha::cli
