// `alpha data prepare`: text inputs -> cached train/validation token shards (see
// engine/train/data/token_cache.h). Prints where the cache entry is and what it holds.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "common/error.h"
#include "engine/train/data/token_cache.h"
#include "tokenizer/load.h"

namespace alpha::cli {

void add_data_command(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Prepare training data");
  data->require_subcommand(1);
  struct Args {
    std::vector<std::string> inputs;
    std::string tokenizer, artifacts;
    size_t vocab_size = 32768;
    train::data::PrepareOptions options;
    std::string cache_dir = "data/cache";
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      data->add_subcommand("prepare", "Tokenise text into cached, zstd-compressed token shards");
  cmd->add_option("--input", args->inputs, "Text files, folders, globs or .jsonl (\"text\" field)")
      ->required();
  auto* tok_opt = cmd->add_option("--tokenizer", args->tokenizer,
                                  "Artifact, tiktoken rank file or GPT-2 folder");
  auto* art_opt =
      cmd->add_option("--tokenizer-artifacts", args->artifacts,
                      "Artifact to load, or to train on the inputs and save if missing");
  tok_opt->excludes(art_opt);
  cmd->add_option("--vocab-size", args->vocab_size,
                  "Vocab size when training (--tokenizer-artifacts)")
      ->capture_default_str();
  cmd->add_option("--cache-dir", args->cache_dir, "Where token shards are cached")
      ->capture_default_str();
  cmd->add_option("--val-fraction", args->options.val_fraction,
                  "Share of tokens held out for validation")
      ->capture_default_str();
  cmd->add_option("--shard-tokens", args->options.shard_tokens, "Tokens per shard file")
      ->capture_default_str();
  cmd->add_option("--threads", args->options.threads, "Encoding threads (0: all)");
  cmd->callback([args] {
    try {
      if (args->tokenizer.empty() && args->artifacts.empty())
        fail("give --tokenizer=PATH or --tokenizer-artifacts=PATH");
      auto t0 = std::chrono::steady_clock::now();
      std::optional<tok::Tokenizer> tokenizer;
      if (!args->tokenizer.empty()) {
        tokenizer.emplace(tok::load_tokenizer(args->tokenizer));
      } else {
        tok::TrainOptions train;
        train.vocab_size = args->vocab_size;
        bool trained = false;
        tokenizer.emplace(
            tok::load_or_train_tokenizer(args->artifacts, args->inputs, train, &trained));
        fmt::print("{} tokenizer {} ({} tokens)\n", trained ? "trained and saved" : "loaded",
                   args->artifacts, tokenizer->vocab_size());
      }
      args->options.cache_dir = args->cache_dir;
      auto d = train::data::prepare_data(args->inputs, *tokenizer, args->options);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      fmt::print(
          "{} {}\ninput: {} documents, {} bytes\ntokens: {} train + {} val (uint{} shards)\n"
          "time: {:.2f} s\n",
          d.cache_hit ? "cached:" : "prepared:", d.dir.string(), d.documents, d.input_bytes,
          d.train_tokens, d.val_tokens, d.dtype_bytes * 8, s);
    } catch (const std::filesystem::filesystem_error& e) {
      throw Error(e.what());
    }
  });
}

}  // namespace alpha::cli
