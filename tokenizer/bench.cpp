// Bench: reads the inputs (concatenated, cut to max_bytes at a safe point), trains once per
// repetition, encodes with the trained and optionally GPT-2's vocabulary; best time wins.
#include "tokenizer/bench.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "tokenizer/load.h"
#include "tokenizer/text_inputs.h"
#include "tokenizer/trainer.h"

namespace alpha::tok {
namespace {

template <typename F>
double best_seconds(int repeat, F&& f) {
  double best = 1e30;
  for (int i = 0; i < std::max(repeat, 1); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

void encode_rows(const char* name, const Tokenizer& tok, std::string_view text, int repeat) {
  size_t tokens = 0;
  for (unsigned threads : {1u, 2u}) {
    double s = best_seconds(repeat, [&] { tokens = tok.encode(text, {threads, false}).size(); });
    fmt::print("| encode {} | {} | {:.3f} s | {:.2f} MB/s ({:.2f} MB/s per thread), {} tokens |\n",
               name, threads, s, text.size() / 1e6 / s, text.size() / 1e6 / s / threads, tokens);
  }
}

}  // namespace

void run_bench(const BenchOptions& options) {
  TextInputs in = read_text_inputs(options.inputs);
  std::string text;
  for (auto doc : in.documents()) {
    if (text.size() >= options.max_bytes) break;
    text += doc;
    text += '\n';
  }
  if (text.size() > options.max_bytes) text.resize(Pretokenizer::safe_cut(text, options.max_bytes));
  std::string sources;
  for (const auto& i : options.inputs) sources += (sources.empty() ? "" : ", ") + i;
  fmt::print("text: {} bytes from {} ({} hardware threads)\n\n", text.size(), sources,
             std::thread::hardware_concurrency());
  fmt::print("| what | threads | time | result |\n|---|---|---|---|\n");
  TrainOptions train;
  train.vocab_size = options.vocab_size;
  train.threads = 2;
  std::vector<std::string_view> docs{text};
  std::optional<Tokenizer> trained;
  double s = best_seconds(options.repeat, [&] { trained.emplace(train_tokenizer(docs, train)); });
  fmt::print("| train vocab {} | 2 | {:.3f} s | {} merges |\n", options.vocab_size, s,
             trained->merges().size());
  encode_rows("trained", *trained, text, options.repeat);
  if (!options.gpt2_dir.empty()) {
    Tokenizer gpt2 = load_tokenizer(options.gpt2_dir);
    encode_rows("gpt2", gpt2, text, options.repeat);
  }
}

}  // namespace alpha::tok
