// `alpha sample`: generates text from a trained run with the KV-cache decoder, streaming each token
// to stdout as it is drawn; timing (prefill and decode tokens/s) goes to stderr.
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/run_selection.h"
#include "common/error.h"
#include "engine/gpt/generate.h"
#include "engine/train/run.h"

namespace alpha::cli {

namespace {

struct SampleOptions {
  RunSelection selection;
  std::string prompt;
  gpt::GenerateOptions generate;
  bool ignore_end = false;
  bool special = false;  // "<|...|>" in the prompt are special tokens (a rendered chat prompt)
};

void sample(const SampleOptions& o) {
  o.generate.sampling.validate();
  if (o.generate.max_tokens < 0) fail("--max-tokens must not be negative");
  const auto [run, checkpoint] = open_selected_run(o.selection);
  const tok::Tokenizer tokenizer = train::load_run_tokenizer(run);

  std::vector<int32_t> prompt;
  tok::EncodeOptions encode;
  encode.allow_special = o.special;
  for (const uint32_t id : tokenizer.encode(o.prompt, encode))
    prompt.push_back(static_cast<int32_t>(id));
  const auto end_of_text = tokenizer.special_id("<|endoftext|>");
  if (prompt.empty()) {
    if (!end_of_text) fail("--prompt is empty and the tokenizer has no <|endoftext|> to start from");
    prompt.push_back(static_cast<int32_t>(*end_of_text));  // a fresh document
  }
  gpt::GenerateOptions generate = o.generate;
  if (end_of_text && !o.ignore_end) generate.stop_token = static_cast<int32_t>(*end_of_text);

  vk::Context context(context_options());
  gpt::GptDecoder decoder(context, run.model);
  decoder.set_parameters(checkpoint.params);

  std::fwrite(o.prompt.data(), 1, o.prompt.size(), stdout);
  std::fflush(stdout);
  const auto stats = gpt::generate(decoder, prompt, generate, [&](int32_t token) {
    if (token == generate.stop_token) return false;
    const std::string& bytes = tokenizer.token_bytes(static_cast<uint32_t>(token));
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  std::fprintf(stderr, "[step %d of %s] prompt %d tokens: %.0f tok/s; %d new tokens: %.1f tok/s\n", checkpoint.step,
               run.dir.string().c_str(), stats.prompt_tokens, stats.prompt_tokens / std::max(stats.prefill_s, 1e-9),
               stats.new_tokens, stats.new_tokens / std::max(stats.decode_s, 1e-9));
}

}  // namespace

void add_sample_command(CLI::App& app) {
  static SampleOptions o;
  auto* cmd = app.add_subcommand("sample", "Generate text from a trained run (KV cache on the device, streamed)");
  add_run_selection_options(*cmd, o.selection);
  cmd->add_option("--prompt", o.prompt, "Text to continue (empty: start a new document at <|endoftext|>)");
  cmd->add_option("--max-tokens", o.generate.max_tokens, "New tokens at most")->capture_default_str();
  cmd->add_option("--temperature", o.generate.sampling.temperature, "Softmax temperature; 0 is greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", o.generate.sampling.top_k, "Draw from the k most likely tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--top-p", o.generate.sampling.top_p, "Then from the smallest set reaching this probability")
      ->capture_default_str();
  cmd->add_option("--seed", o.generate.seed, "Seed of the draws")->capture_default_str();
  cmd->add_flag("--special", o.special,
                "Read special-token text in --prompt (e.g. <|user_start|>) as those tokens, as in "
                "a chat prompt");
  cmd->add_flag("--ignore-end", o.ignore_end, "Keep going past <|endoftext|> instead of stopping there");
  cmd->callback([] { sample(o); });
}

}  // namespace alpha::cli
