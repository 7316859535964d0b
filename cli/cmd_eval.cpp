// `alpha eval`: a run's checkpoint on its validation split, or on text given with --data
// (engine/train/evaluate.h): loss in nats per token, perplexity and bits per byte, as text or as
// one JSON object.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/run_selection.h"
#include "engine/train/evaluate.h"

namespace alpha::cli {

void add_eval_command(CLI::App& app) {
  static RunSelection selection;
  static train::EvalOptions options;
  static bool json = false;
  auto* cmd =
      app.add_subcommand("eval", "Validation loss, perplexity and bits per byte of a trained run");
  add_run_selection_options(*cmd, selection);
  cmd->add_option("--batch", options.batch, "Windows per forward pass (default: the run's --batch)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-tokens", options.max_tokens, "Evaluate only the first N tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--data", options.data,
                  "Evaluate on all of this text instead (files, folders, globs, .jsonl; needed for "
                  "an imported run, which has no validation split)");
  cmd->add_flag("--json", json, "Print one JSON object instead of text");
  cmd->footer(
      "The validation split is cut into consecutive windows of the run's --seq; every token\n"
      "but the first is predicted once. loss: mean cross-entropy in nats per predicted token.\n"
      "bits per byte: the summed nats / ln 2 / the bytes of text those tokens stand for\n"
      "(document separators stand for none).\n"
      "--data: the text is tokenised with the run's tokenizer, each document after its separator\n"
      "(<|bos|>, else <|endoftext|>), not cached, and evaluated whole.\n");
  cmd->callback([] {
    const auto [run, checkpoint] = open_selected_run(selection);
    vk::Context context(context_options());
    const auto result = train::evaluate_run(context, run, checkpoint, options);
    if (json) {
      const nlohmann::json line = {{"run", run.dir.string()},
                                   {"step", checkpoint.step},
                                   {"tokens", result.tokens},
                                   {"bytes", result.bytes},
                                   {"windows", result.windows},
                                   {"seq", run.model.seq_len},
                                   {"loss", result.loss()},
                                   {"perplexity", result.perplexity()},
                                   {"bits_per_byte", result.bits_per_byte()}};
      fmt::print("{}\n", line.dump());
      return;
    }
    fmt::print("run {} at step {}: {} {} tokens ({} bytes) in {} windows of {}\n", run.dir.string(),
               checkpoint.step, result.tokens, options.data.empty() ? "validation" : "--data",
               result.bytes, result.windows, run.model.seq_len);
    fmt::print("loss {:.4f} nats/token  perplexity {:.2f}  {:.4f} bits/byte\n", result.loss(),
               result.perplexity(), result.bits_per_byte());
  });
}

}  // namespace alpha::cli
