// `alpha eval`: a model's loss on held-out tokens, as nats per token, perplexity and bits per byte.
// The tokens are cut into consecutive non-overlapping windows of the model's T: window i feeds
// tokens [iT, iT+T) and predicts [iT+1, iT+T+1), so every token but the first is predicted exactly
// once, each with up to T tokens of context. Bits per byte charges those nats to the bytes of text
// the predicted tokens stand for; special tokens (document separators) stand for no text, so they
// add their nats but no bytes: the figure is the cost of encoding the text with its document
// breaks.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/gpt/model.h"
#include "engine/train/checkpoint.h"
#include "engine/train/run.h"
#include "engine/vk/context.h"
#include "tokenizer/tokenizer.h"

namespace alpha::train {

struct Evaluation {
  int64_t tokens = 0;            // predicted tokens
  int64_t bytes = 0;             // bytes of text those tokens stand for
  double nats = 0;               // summed cross-entropy of those predictions
  int64_t windows = 0;           // forward windows of up to T predictions
  double loss() const;           // nats per token
  double perplexity() const;     // exp(loss)
  double bits_per_byte() const;  // nats / ln 2 / bytes
};

// Per vocabulary id: the bytes of text the token stands for (0 for special tokens).
std::vector<uint32_t> token_text_bytes(const tok::Tokenizer& tokenizer);

// Loss of `model` (its current parameters; B windows per forward pass) over `tokens` (at least 2).
Evaluation evaluate_tokens(vk::Context& context, gpt::GptModel& model,
                           std::span<const uint32_t> tokens, std::span<const uint32_t> text_bytes);

// The validation split the run trained with: its token cache entry (config.json's data_key) if it
// is still there, else the run's data files tokenised again; a clear error when both are gone, or
// when the run has no data (an imported run: evaluate it on text of your own, EvalOptions::data).
std::vector<uint32_t> load_run_validation(const Run& run, const tok::Tokenizer& tokenizer);

// All of `inputs` (files, folders, globs, .jsonl, as `alpha train --data` takes them) tokenised as
// the token cache does (each document after the separator), not cached.
std::vector<uint32_t> tokenize_text(const std::vector<std::string>& inputs,
                                    const tok::Tokenizer& tokenizer);

struct EvalOptions {
  int batch = 0;           // windows per forward pass; 0: the run's --batch
  int64_t max_tokens = 0;  // evaluate the first this many tokens; 0: all
  std::vector<std::string> data;  // evaluate on all of this text instead of the validation split
};

// The checkpoint's parameters evaluated on the run's validation split (or options.data).
Evaluation evaluate_run(vk::Context& context, const Run& run, const Checkpoint& checkpoint,
                        const EvalOptions& options);

}  // namespace alpha::train
