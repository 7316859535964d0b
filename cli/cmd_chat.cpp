// `alpha chat`: a terminal conversation with a trained run through the chat template and the
// server's generation code (one scheduler slot, the same stop tokens and strings, streamed as it is
// drawn). Reads one user message per line; /clear starts over, /exit or the end of input ends it,
// so it works from a pipe.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/run_selection.h"
#include "common/error.h"
#include "engine/gpt/decoder.h"
#include "serve/reply_text.h"
#include "serve/scheduler.h"
#include "tokenizer/chat_template.h"

namespace alpha::cli {

namespace {

struct ChatOptions {
  RunSelection selection;
  std::string system;
  gpt::SamplingOptions sampling;
  int max_tokens = 256;
  uint64_t seed = 1;
};

void chat(const ChatOptions& o) {
  o.sampling.validate();
  if (o.max_tokens < 1) fail("--max-tokens must be at least 1, not {}", o.max_tokens);
  const auto [run, checkpoint] = open_selected_run(o.selection);
  const tok::Tokenizer tokenizer = train::load_run_tokenizer(run);
  const tok::ChatTemplate chat_template(tokenizer);
  vk::Context context(context_options());
  gpt::GptDecoder decoder(context, run.model);
  decoder.set_parameters(checkpoint.params);
  serve::Scheduler scheduler(decoder, 0);
  const int capacity = run.model.seq_len;

  const bool interactive = isatty(STDIN_FILENO);
  if (interactive)
    std::fprintf(
        stderr,
        "chatting with %s (step %d, %s template). /clear starts over, /exit or Ctrl-D ends.\n",
        run.dir.filename().c_str(), checkpoint.step,
        chat_template.has_chat_tokens() ? "chat" : "plain-text");
  std::vector<tok::ChatMessage> messages;
  auto start = [&] {
    messages.clear();
    if (!o.system.empty()) messages.push_back({"system", o.system});
  };
  start();
  std::string line;
  for (uint64_t turn = 0;; ++turn) {
    if (interactive) std::fputs("> ", stdout), std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "/exit") break;
    if (line == "/clear") {
      start();
      if (interactive) std::fputs("(new conversation)\n", stderr);
      continue;
    }
    if (line.empty()) continue;
    messages.push_back({"user", line});
    const auto prompt = chat_template.render(messages);
    const int room = capacity - static_cast<int>(prompt.size());
    if (room < 1) {
      std::fprintf(stderr,
                   "alpha chat: the conversation is %zu tokens, the context holds %d; /clear to "
                   "start over\n",
                   prompt.size(), capacity);
      messages.pop_back();
      continue;
    }
    serve::GenerationRequest request;
    request.prompt.assign(prompt.begin(), prompt.end());
    request.max_tokens = std::min(o.max_tokens, room);
    request.sampling = o.sampling;
    request.seed = o.seed + turn;
    for (const uint32_t id : chat_template.stop_tokens())
      request.stop_tokens.push_back(static_cast<int32_t>(id));
    auto generation = scheduler.submit(std::move(request));
    serve::ReplyText reply(chat_template.stop_strings());
    std::string text;
    const auto outcome = serve::follow_reply(
        *generation, tokenizer, reply,
        [&](std::string_view piece) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
          text += piece;
          return true;
        },
        [] { return false; });
    std::fputc('\n', stdout);
    std::fflush(stdout);
    if (outcome.finish == serve::Finish::error) fail("generation failed: {}", outcome.error);
    messages.push_back({"assistant", text});
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  static ChatOptions o;
  auto* cmd = app.add_subcommand("chat",
                                 "Chat with a trained run in the terminal (one message per line; "
                                 "/clear starts over, /exit or end of input ends)");
  add_run_selection_options(*cmd, o.selection);
  cmd->add_option("--system", o.system, "A system message that opens the conversation");
  cmd->add_option("--temperature", o.sampling.temperature, "Softmax temperature; 0 is greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", o.sampling.top_k, "Draw from the k most likely tokens (0: all)")
      ->capture_default_str();
  cmd->add_option("--top-p", o.sampling.top_p,
                  "Then from the smallest set reaching this probability")
      ->capture_default_str();
  cmd->add_option("--max-tokens", o.max_tokens, "New tokens per reply at most")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "Seed of the draws (the n-th reply uses seed + n)")
      ->capture_default_str();
  cmd->callback([] { chat(o); });
}

}  // namespace alpha::cli
