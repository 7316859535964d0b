// Evaluation over consecutive windows (see evaluate.h).
#include "engine/train/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>

#include "common/error.h"
#include "engine/train/data/token_cache.h"
#include "tokenizer/text_inputs.h"

namespace alpha::train {

namespace fs = std::filesystem;

double Evaluation::loss() const {
  return nats / static_cast<double>(tokens);
}
double Evaluation::perplexity() const {
  return std::exp(loss());
}
double Evaluation::bits_per_byte() const {
  return nats / std::numbers::ln2 / static_cast<double>(bytes);
}

std::vector<uint32_t> token_text_bytes(const tok::Tokenizer& tokenizer) {
  std::vector<uint32_t> bytes(tokenizer.vocab_size());
  for (uint32_t id = 0; id < bytes.size(); ++id)
    bytes[id] =
        tokenizer.is_special(id) ? 0 : static_cast<uint32_t>(tokenizer.token_bytes(id).size());
  return bytes;
}

Evaluation evaluate_tokens(vk::Context& context, gpt::GptModel& model,
                           std::span<const uint32_t> tokens, std::span<const uint32_t> text_bytes) {
  if (tokens.size() < 2)
    fail("evaluation needs at least 2 tokens (one to predict), not {}", tokens.size());
  const int B = model.batch(), T = model.seq();
  const int64_t predictions = static_cast<int64_t>(tokens.size()) - 1;
  Evaluation result;
  result.windows = (predictions + T - 1) / T;
  std::vector<int32_t> inputs(size_t(B) * T), targets(size_t(B) * T);
  for (int64_t first_window = 0; first_window < result.windows; first_window += B) {
    // Windows past the end (in the last batch) and positions past the last token are padding: input
    // token 0, target -1 (ignored by the loss).
    std::fill(inputs.begin(), inputs.end(), 0);
    std::fill(targets.begin(), targets.end(), -1);
    int64_t batch_targets = 0;
    for (int b = 0; b < B && first_window + b < result.windows; ++b) {
      const int64_t start = (first_window + b) * T;
      const int64_t n = std::min<int64_t>(T, predictions - start);
      for (int64_t t = 0; t < n; ++t) {
        inputs[b * T + t] = static_cast<int32_t>(tokens[start + t]);
        const uint32_t target = tokens[start + t + 1];
        targets[b * T + t] = static_cast<int32_t>(target);
        result.bytes += text_bytes[target];
      }
      batch_targets += n;
    }
    model.set_batch(inputs, targets);
    vk::CommandStream stream(context);
    model.forward(stream, true);
    stream.submit();
    // the model's loss is the mean over this batch's targets: weight it by their count
    result.nats += static_cast<double>(model.read_loss()) * static_cast<double>(batch_targets);
    result.tokens += batch_targets;
  }
  return result;
}

std::vector<uint32_t> tokenize_text(const std::vector<std::string>& inputs,
                                    const tok::Tokenizer& tokenizer) {
  const tok::TextInputs text = tok::read_text_inputs(inputs);
  return tokenizer.encode_documents(text.documents(), data::document_separator(tokenizer));
}

std::vector<uint32_t> load_run_validation(const Run& run, const tok::Tokenizer& tokenizer) {
  const std::string key = run.config.value("data_key", "");
  if (key.empty() && run.options.data.empty())
    fail(
        "run {} has no training data and so no validation split ({}): evaluate it on text with "
        "--data=PATH",
        run.dir.string(),
        run.config.contains("imported") ? "it was imported" : "no data_key, no data");
  const fs::path entry = run.options.cache_dir / key;
  data::PreparedData prepared;
  if (!key.empty() && fs::exists(entry / "manifest.json")) {
    prepared = data::open_prepared(entry);
  } else {
    data::PrepareOptions prepare;  // the trainer's defaults: the same split
    prepare.cache_dir = run.options.cache_dir;
    try {
      prepared = data::prepare_data(run.options.data, tokenizer, prepare);
    } catch (const Error& e) {
      fail(
          "the validation data of run {} is gone: its token cache {} does not exist and its data "
          "cannot be "
          "read again ({})",
          run.dir.string(), entry.string(), e.what());
    }
    if (!key.empty() && prepared.key != key)
      std::fprintf(
          stderr,
          "warning: the data files of run %s changed since it trained; evaluating on their "
          "current validation split\n",
          run.dir.string().c_str());
  }
  if (prepared.vocab_size != tokenizer.vocab_size())
    fail("the token cache {} was made with another vocabulary ({}) than run {} ({})",
         prepared.dir.string(), prepared.vocab_size, run.dir.string(), tokenizer.vocab_size());
  return data::load_split(prepared, data::Split::val);
}

Evaluation evaluate_run(vk::Context& context, const Run& run, const Checkpoint& checkpoint,
                        const EvalOptions& options) {
  if (options.batch < 0) fail("--batch must be positive, not {}", options.batch);
  if (options.max_tokens < 0 || options.max_tokens == 1)
    fail("--max-tokens must be at least 2 (or 0 for all), not {}", options.max_tokens);
  const auto tokenizer = load_run_tokenizer(run);
  auto tokens = options.data.empty() ? load_run_validation(run, tokenizer)
                                     : tokenize_text(options.data, tokenizer);
  if (options.max_tokens > 0 && static_cast<size_t>(options.max_tokens) < tokens.size())
    tokens.resize(options.max_tokens);
  if (tokens.size() < 2)
    fail("the {} of run {} has {} tokens; at least 2 are needed",
         options.data.empty() ? "validation split" : "--data text", run.dir.string(),
         tokens.size());
  const int T = run.model.seq_len;
  const int64_t windows = (static_cast<int64_t>(tokens.size()) - 1 + T - 1) / T;
  const int B = static_cast<int>(
      std::min<int64_t>(options.batch > 0 ? options.batch : run.options.batch, windows));
  gpt::GptModel model(context, run.model, B, T);
  model.set_parameters(checkpoint.params);
  return evaluate_tokens(context, model, tokens, token_text_bytes(tokenizer));
}

}  // namespace alpha::train
