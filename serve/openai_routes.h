// The routes of `alpha serve`: the OpenAI API under /v1 (chat and text completions, streamed or
// not, models), /health, and every other GET to the web pages (serve/web_routes.h). Turns requests
// into scheduler generations and their tokens into answers; every failure is an OpenAI-shaped
// error.
#pragma once

#include <filesystem>
#include <string>

#include "serve/http_server.h"
#include "serve/openai_api.h"
#include "serve/scheduler.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace alpha::serve {

struct ServedModel {
  std::string name;  // the model id: the run's name
  int step = 0;      // of the checkpoint
  int context = 0;   // tokens (the model's seq_len)
  const tok::Tokenizer* tokenizer = nullptr;
};

class OpenAiRoutes {
 public:
  // api_key empty: no key needed. runs_dir: what the runs dashboard shows.
  OpenAiRoutes(ServedModel model, Scheduler& scheduler, std::string api_key,
               std::filesystem::path runs_dir);

  void handle(HttpExchange& exchange);  // an HttpHandler

 private:
  struct Prepared;
  void route(HttpExchange& exchange);
  bool authorized(const HttpRequest& request) const;
  void chat(HttpExchange& exchange);
  void completion(HttpExchange& exchange);
  nlohmann::json model_json() const;
  Prepared prepare(std::vector<uint32_t> prompt, const SamplingRequest& sampling,
                   const char* prompt_field, std::vector<uint32_t> stop_tokens,
                   std::vector<std::string> stop_strings) const;
  void answer(HttpExchange& exchange, bool chat, Prepared& prepared, bool stream,
              bool include_usage);

  ServedModel model_;
  tok::ChatTemplate template_;
  Scheduler& scheduler_;
  std::string api_key_;
  std::filesystem::path runs_dir_;
};

}  // namespace alpha::serve
