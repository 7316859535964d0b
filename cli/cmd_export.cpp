// `alpha export`: writes a run's checkpoint in a format other tools load (safetensors or GGUF, see
// engine/train/export.h) and prints the files it wrote.
#include <fmt/format.h>

#include <filesystem>

#include "cli/commands.h"
#include "cli/run_selection.h"
#include "engine/train/export.h"

namespace alpha::cli {

void add_export_command(CLI::App& app) {
  static RunSelection selection;
  static std::string format = "safetensors", dtype = "f32", out;
  auto* cmd = app.add_subcommand(
      "export", "Export a trained run for other tools (safetensors with GPT-2 names, or GGUF)");
  add_run_selection_options(*cmd, selection);
  cmd->add_option("--format", format, "Export format: " + train::export_formats())
      ->capture_default_str();
  cmd->add_option("--dtype", dtype, "Tensor type: f32, or f16 (gguf only; norms and biases stay f32)")
      ->capture_default_str();
  cmd->add_option("--out", out, "Output folder (default: <run>/export)");
  cmd->footer(
      "safetensors writes three files: model.safetensors (tensors named and shaped as\n"
      "Hugging Face's GPT-2: wte, wpe, h.N.ln_1, h.N.attn.c_attn, h.N.attn.c_proj, h.N.ln_2,\n"
      "h.N.mlp.c_fc, h.N.mlp.c_proj, ln_f; linear weights (in, out) as GPT-2's Conv1D; the LM\n"
      "head is tied to wte), config.json (a GPT2Config; the folder is laid out for\n"
      "transformers' GPT2LMHeadModel.from_pretrained) and tokenizer.bin (the run's tokenizer\n"
      "as an alpha tokenizer artifact, for alpha's --tokenizer options; transformers cannot\n"
      "read it).\n"
      "gguf writes model.gguf for llama.cpp-family tools: the gpt2 architecture (tensors\n"
      "token_embd, position_embd, blk.N.attn_norm/attn_qkv/attn_output/ffn_norm/ffn_up/ffn_down,\n"
      "output_norm; the head tied to token_embd) with the tokenizer embedded (tokenizer.ggml.*).\n"
      "--dtype=f16 stores the 2-D weights but position_embd as f16. gpt2-architecture runs only.\n");
  cmd->callback([] {
    train::check_export_format(format);  // before the checkpoint is read
    train::check_export_dtype(format, dtype);
    const auto [run, checkpoint] = open_selected_run(selection);
    const std::filesystem::path dir = out.empty() ? run.dir / "export" : std::filesystem::path(out);
    const auto files = train::export_run(run, checkpoint, format, dir, dtype);
    fmt::print("exported run {} at step {} ({}):\n", run.dir.string(), checkpoint.step,
               run.model.describe());
    for (const auto& file : files)
      fmt::print("  {} ({:.1f} KiB)\n", file.string(), std::filesystem::file_size(file) / 1024.0);
  });
}

}  // namespace alpha::cli
