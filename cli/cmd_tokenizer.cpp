// `alpha tokenizer train|encode|decode|stats|bench`: the tokenizer from the command line.
// --tokenizer=PATH names an alpha artifact, a tiktoken rank file, or a GPT-2 folder everywhere.
// Output is produced only after all input has been read and checked, so errors leave none.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/error.h"
#include "tokenizer/artifact.h"
#include "tokenizer/bench.h"
#include "tokenizer/file_io.h"
#include "tokenizer/hash.h"
#include "tokenizer/load.h"
#include "tokenizer/text_inputs.h"
#include "tokenizer/trainer.h"

namespace alpha::cli {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_stdin() {
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) bytes.append(buf, n);
  if (std::ferror(stdin)) fail("cannot read standard input");
  return bytes;
}

// --input=FILE if given, else standard input; an empty input is an error.
std::string read_input(const std::string& input) {
  std::string bytes = input.empty() ? read_stdin() : tok::read_file(input);
  if (bytes.empty())
    fail("{}: input is empty", input.empty() ? std::string("standard input") : input);
  return bytes;
}

void write_stdout(std::string_view bytes) {
  if (std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size() ||
      std::fflush(stdout) != 0)
    fail("cannot write to standard output");
}

std::vector<uint32_t> parse_ids(std::string_view text) {
  std::vector<uint32_t> ids;
  size_t i = 0;
  while (true) {
    while (i < text.size() && std::isspace(uint8_t(text[i]))) ++i;
    if (i == text.size()) break;
    size_t start = i;
    uint64_t v = 0;
    size_t end = start;
    while (end < text.size() && !std::isspace(uint8_t(text[end]))) ++end;
    for (; i < end; ++i) {
      char c = text[i];
      if (c < '0' || c > '9' || v > UINT32_MAX) {
        std::string word;  // printable, at most 40 chars, for the message
        for (char w : text.substr(start, std::min<size_t>(end - start, 40)))
          word += (w >= ' ' && w <= '~') ? std::string(1, w) : fmt::format("\\x{:02x}", uint8_t(w));
        fail("not a token id: '{}' (expected decimal numbers separated by spaces)", word);
      }
      v = v * 10 + uint64_t(c - '0');
    }
    if (v > UINT32_MAX) fail("token id {} is too large", text.substr(start, i - start));
    ids.push_back(uint32_t(v));
  }
  if (ids.empty()) fail("no token ids in the input");
  return ids;
}

// Runs a command body, turning library exceptions that are not alpha::Error into one.
template <typename F>
auto guarded(F body) {
  return [body] {
    try {
      body();
    } catch (const Error&) {
      throw;
    } catch (const std::filesystem::filesystem_error& e) {
      throw Error(e.what());
    } catch (const std::bad_alloc&) {
      throw Error("out of memory");
    }
  };
}

void add_train(CLI::App& parent) {
  struct Args {
    std::vector<std::string> inputs;
    std::string output;
    size_t vocab_size = 32768;
    unsigned threads = 0;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      parent.add_subcommand("train", "Train a byte-level BPE tokenizer and save it as an artifact");
  cmd->add_option("--input", args->inputs, "Text files, folders, globs or .jsonl (\"text\" field)")
      ->required();
  cmd->add_option("--output", args->output, "Artifact file to write")->required();
  cmd->add_option("--vocab-size", args->vocab_size,
                  "Vocabulary size: 256 bytes + merges + specials")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Threads for counting (0: all)");
  cmd->add_flag("--force", args->force, "Overwrite an existing artifact");
  cmd->callback(guarded([args] {
    std::error_code ec;
    if (!args->force && std::filesystem::exists(args->output, ec))
      fail("{}: already exists (use --force to overwrite)", args->output);
    tok::TrainOptions options;
    options.vocab_size = args->vocab_size;
    options.threads = args->threads;
    if (options.vocab_size < 256 + options.special_tokens.size())
      fail("vocab size {} is smaller than 256 byte tokens + {} special tokens = {}",
           options.vocab_size, options.special_tokens.size(), 256 + options.special_tokens.size());
    auto t0 = Clock::now();
    tok::TextInputs text = tok::read_text_inputs(args->inputs);
    tok::Tokenizer tokenizer = tok::train_tokenizer(text.documents(), options);
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    tok::save_artifact(tokenizer, args->output);
    fmt::print("trained {} tokens ({} merges, {} special) on {:.1f} MB in {:.2f} s -> {}\n",
               tokenizer.vocab_size(), tokenizer.merges().size(), tokenizer.special_ids().size(),
               text.total_bytes() / 1e6, seconds, args->output);
    if (tokenizer.vocab_size() < args->vocab_size)
      fmt::print(stderr, "note: the text ran out of pairs seen twice; vocab is {} not {}\n",
                 tokenizer.vocab_size(), args->vocab_size);
  }));
}

void add_encode(CLI::App& parent) {
  struct Args {
    std::string tokenizer, input;
    bool allow_special = false;
    unsigned threads = 0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      parent.add_subcommand("encode", "Text (stdin or --input) -> token ids separated by spaces");
  cmd->add_option("--tokenizer", args->tokenizer, "Artifact, tiktoken rank file or GPT-2 folder")
      ->required();
  cmd->add_option("--input", args->input, "Read this file instead of standard input");
  cmd->add_flag("--allow-special", args->allow_special,
                "Turn text like <|bos|> into its special id");
  cmd->add_option("--threads", args->threads, "Encoding threads (0: all)");
  cmd->callback(guarded([args] {
    tok::Tokenizer tokenizer = tok::load_tokenizer(args->tokenizer);
    std::string text = read_input(args->input);
    std::vector<uint32_t> ids = tokenizer.encode(text, {args->threads, args->allow_special});
    std::string out;
    out.reserve(ids.size() * 6);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out.push_back(' ');
      fmt::format_int s(ids[i]);
      out.append(s.data(), s.size());
    }
    out.push_back('\n');
    write_stdout(out);
  }));
}

void add_decode(CLI::App& parent) {
  struct Args {
    std::string tokenizer, input;
  };
  auto args = std::make_shared<Args>();
  auto* cmd =
      parent.add_subcommand("decode", "Token ids (stdin or --input) -> the exact original bytes");
  cmd->add_option("--tokenizer", args->tokenizer, "Artifact, tiktoken rank file or GPT-2 folder")
      ->required();
  cmd->add_option("--input", args->input, "Read this file instead of standard input");
  cmd->callback(guarded([args] {
    tok::Tokenizer tokenizer = tok::load_tokenizer(args->tokenizer);
    std::vector<uint32_t> ids = parse_ids(read_input(args->input));
    write_stdout(tokenizer.decode(ids));  // decode checks every id before anything is written
  }));
}

void add_stats(CLI::App& parent) {
  struct Args {
    std::string tokenizer;
    std::vector<std::string> inputs;
    unsigned threads = 0;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = parent.add_subcommand(
      "stats", "Describe a tokenizer; with --input, its compression and speed");
  cmd->add_option("--tokenizer", args->tokenizer, "Artifact, tiktoken rank file or GPT-2 folder")
      ->required();
  cmd->add_option("--input", args->inputs, "Text files, folders, globs or .jsonl to encode");
  cmd->add_option("--threads", args->threads, "Encoding threads (0: all)");
  cmd->callback(guarded([args] {
    tok::Tokenizer tokenizer = tok::load_tokenizer(args->tokenizer);
    std::string specials;
    for (uint32_t id : tokenizer.special_ids())
      specials +=
          fmt::format("{}{}={}", specials.empty() ? "" : " ", tokenizer.token_bytes(id), id);
    fmt::print(
        "tokenizer: {}\nvocab size: {}\nmerges: {}\npattern: {}\nspecial tokens: {}\nxxh64: {}\n",
        args->tokenizer, tokenizer.vocab_size(), tokenizer.merges().size(),
        tok::pattern_name(tokenizer.pattern()), specials.empty() ? "none" : specials,
        tok::hex64(tokenizer.hash()));
    if (args->inputs.empty()) return;
    tok::TextInputs text = tok::read_text_inputs(args->inputs);
    auto t0 = Clock::now();
    uint64_t tokens = 0;
    std::vector<bool> used(tokenizer.vocab_size());
    for (auto doc : text.documents()) {
      auto ids = tokenizer.encode(doc, {args->threads, false});
      tokens += ids.size();
      for (uint32_t id : ids) used[id] = true;
    }
    double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    size_t distinct = std::count(used.begin(), used.end(), true);
    fmt::print(
        "input: {} files, {} documents, {} bytes\ntokens: {} ({:.3f} bytes/token)\n"
        "distinct ids used: {} of {}\nencode: {:.3f} s, {:.2f} MB/s\n",
        text.files.size(), text.documents().size(), text.total_bytes(), tokens,
        tokens ? double(text.total_bytes()) / tokens : 0.0, distinct, tokenizer.vocab_size(),
        seconds, text.total_bytes() / 1e6 / seconds);
  }));
}

void add_bench(CLI::App& parent) {
  auto options = std::make_shared<tok::BenchOptions>();
  auto* cmd =
      parent.add_subcommand("bench", "Time training and encoding (prints a markdown table)");
  cmd->add_option("--input", options->inputs, "Text to train and encode on")->required();
  cmd->add_option("--bytes", options->max_bytes, "Use the first N bytes of the input")
      ->capture_default_str();
  cmd->add_option("--vocab-size", options->vocab_size, "Vocabulary size to train")
      ->capture_default_str();
  cmd->add_option("--gpt2", options->gpt2_dir,
                  "Also time GPT-2's vocabulary (folder with encoder.json + vocab.bpe)");
  cmd->add_option("--repeat", options->repeat, "Timed repetitions (best is reported)")
      ->capture_default_str();
  cmd->callback(guarded([options] { tok::run_bench(*options); }));
}

}  // namespace

void add_tokenizer_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Train, use and inspect byte-level BPE tokenizers");
  cmd->require_subcommand(1);
  add_train(*cmd);
  add_encode(*cmd);
  add_decode(*cmd);
  add_stats(*cmd);
  add_bench(*cmd);
}

}  // namespace alpha::cli
