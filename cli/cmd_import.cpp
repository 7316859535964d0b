// `alpha import`: a Hugging Face GPT-2 folder (model.safetensors, config.json, tokenizer files) as
// a new run (engine/train/import.h), and a short summary of what was imported and where it went.
#include <fmt/format.h>

#include <filesystem>
#include <string>

#include "cli/commands.h"
#include "engine/train/import.h"
#include "version.h"

namespace alpha::cli {

namespace {

void print_summary(const train::ImportResult& r, const train::ImportOptions& o) {
  std::string dtypes, ignored;
  for (const auto& [dtype, count] : r.dtypes)
    dtypes += fmt::format("{}{} {}", dtypes.empty() ? "" : ", ", count, dtype);
  if (!r.ignored.empty()) ignored = fmt::format("; {} mask buffers ignored", r.ignored.size());
  fmt::print("imported {} ({}: {} tensors{}) into run {}\n", o.dir.string(), o.format, dtypes,
             ignored, r.run_dir.string());
  fmt::print(
      "  model: {} ({}), {:.2f}M parameters{}\n", r.model.describe(),
      r.model.tie_embeddings ? "gpt2, head tied to wte" : "gpt2 with an untied lm_head",
      r.parameters / 1e6,
      r.model.seq_len < r.n_positions
          ? fmt::format("; context {} of the model's {} positions", r.model.seq_len, r.n_positions)
          : "");
  fmt::print("  tokenizer: {}, {} tokens{}\n", r.tokenizer_files, r.vocab_size,
             r.end_of_text ? fmt::format(", <|endoftext|> = {}", *r.end_of_text) : "");
  fmt::print("  checkpoint: {} (step 0, zero AdamW state)\n", r.checkpoint.string());
  const std::string run = r.run_dir.filename().string();
  const std::string runs_dir =
      o.runs_dir == "runs" ? "" : fmt::format(" --runs-dir={}", o.runs_dir.string());
  fmt::print("next: alpha sample --run={}{} --prompt=TEXT; alpha eval --run={}{} --data=FILE\n",
             run, runs_dir, run, runs_dir);
}

}  // namespace

void add_import_command(CLI::App& app) {
  static train::ImportOptions o;
  static std::string dir, runs_dir = "runs";
  auto* cmd = app.add_subcommand(
      "import", "Import a Hugging Face GPT-2 folder (model.safetensors) as a new run");
  cmd->add_option("DIR", dir, "Folder with model.safetensors, config.json and the tokenizer")
      ->required();
  cmd->add_option("--format", o.format, "Import format: " + train::import_formats())
      ->capture_default_str();
  cmd->add_option("--run", o.run,
                  "Run name (default: the folder's name; the run's for an alpha export folder)");
  cmd->add_option("--runs-dir", runs_dir, "Where run directories go")->capture_default_str();
  cmd->add_option("--seq", o.seq,
                  "Context length: keep the first N rows of wpe (default: the model's n_positions)")
      ->check(CLI::PositiveNumber);
  cmd->footer(
      "Reads model.safetensors (F32, F16 or BF16, converted to f32; the tensors of GPT2Model or\n"
      "GPT2LMHeadModel, with or without the 'transformer.' prefix; Conv1D weights (in, out);\n"
      "the attn.bias/attn.masked_bias buffers are skipped), config.json (a GPT2Config:\n"
      "n_embd, n_layer, n_head, n_positions or n_ctx, vocab_size; activation_function\n"
      "gelu_new or gelu_pytorch_tanh, layer_norm_epsilon 1e-5, n_inner null or 4*n_embd) and\n"
      "the tokenizer: tokenizer.bin (alpha export's), else vocab.json + merges.txt, else\n"
      "encoder.json + vocab.bpe; its size must be config.json's vocab_size.\n"
      "lm_head.weight, if present, must equal wte.weight unless tie_word_embeddings is false,\n"
      "in which case it is imported as an untied head (such a run does not export to GPT-2).\n"
      "Writes <runs-dir>/<run>/: config.json, tokenizer.bin and checkpoints/step-00000000.ckpt,\n"
      "for alpha sample, alpha eval --data=FILE (an imported run has no validation split) and\n"
      "alpha export. An existing run is never overwritten; a failed import writes nothing.\n"
      "alpha export --run=R then alpha import gives back R's parameters bit for bit.\n");
  cmd->callback([] {
    o.dir = dir;
    o.runs_dir = runs_dir;
    o.git_commit = ALPHA_GIT_COMMIT;
    print_summary(train::import_run(o), o);
  });
}

}  // namespace alpha::cli
