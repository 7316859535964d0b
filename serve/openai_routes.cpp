// Routing, authentication and the completion endpoints (see openai_routes.h).
#include "serve/openai_routes.h"

#include <fmt/format.h>

#include <random>

#include "serve/reply_text.h"
#include "serve/web_routes.h"

namespace alpha::serve {

using nlohmann::json;

struct OpenAiRoutes::Prepared {
  GenerationRequest request;
  std::vector<std::string> stop_strings;
  std::string model;
};

OpenAiRoutes::OpenAiRoutes(ServedModel model, Scheduler& scheduler, std::string api_key,
                           std::filesystem::path runs_dir)
    : model_(std::move(model)),
      template_(*model_.tokenizer),
      scheduler_(scheduler),
      api_key_(std::move(api_key)),
      runs_dir_(std::move(runs_dir)) {}

void OpenAiRoutes::handle(HttpExchange& exchange) {
  // nothing a request carries may take the server down: every failure becomes an error answer
  auto answer_error = [&](const ApiError& error) {
    exchange.respond(error.status, "application/json", dump(error_json(error)));
  };
  try {
    route(exchange);
  } catch (const ApiError& error) {
    answer_error(error);
  } catch (const std::exception& e) {
    answer_error(ApiError(500, "server_error", fmt::format("internal error: {}", e.what())));
  }
}

bool OpenAiRoutes::authorized(const HttpRequest& request) const {
  if (api_key_.empty()) return true;
  const std::string want = "Bearer " + api_key_;
  const std::string& got = request.authorization;
  unsigned char differ = got.size() != want.size();  // compared in constant time
  for (size_t i = 0; i < want.size(); ++i)
    differ |= static_cast<unsigned char>(want[i] ^ (i < got.size() ? got[i] : 0));
  return differ == 0;
}

json OpenAiRoutes::model_json() const {
  return {{"id", model_.name},   {"object", "model"},   {"created", 0},
          {"owned_by", "alpha"}, {"step", model_.step}, {"context_length", model_.context}};
}

void OpenAiRoutes::route(HttpExchange& exchange) {
  const HttpRequest& request = exchange.request();
  const std::string path = request.target.substr(0, request.target.find('?'));
  const bool get = request.method == "GET", post = request.method == "POST";
  if (path == "/v1" || path.starts_with("/v1/")) {
    if (!authorized(request))
      throw ApiError(401, "invalid_request_error",
                     request.authorization.empty()
                         ? "Missing API key: send 'Authorization: Bearer KEY'"
                         : "Incorrect API key provided",
                     {}, "invalid_api_key");
    if (post && path == "/v1/chat/completions") return chat(exchange);
    if (post && path == "/v1/completions") return completion(exchange);
    if (get && path == "/v1/models")
      return exchange.respond(200, "application/json",
                              dump({{"object", "list"}, {"data", json::array({model_json()})}}));
    if (get && path.starts_with("/v1/models/")) {
      const std::string id = path.substr(11);
      if (id != model_.name)
        throw ApiError(404, "invalid_request_error",
                       fmt::format("The model '{}' does not exist", id), "model",
                       "model_not_found");
      return exchange.respond(200, "application/json", dump(model_json()));
    }
  } else if (get && path == "/health") {
    const auto status = scheduler_.status();
    return exchange.respond(200, "application/json",
                            dump({{"status", "ok"},
                                  {"model", model_.name},
                                  {"step", model_.step},
                                  {"slots", status.slots},
                                  {"busy_slots", status.busy},
                                  {"queued", status.queued},
                                  {"decode_steps", status.steps}}));
  } else if (get) {
    if (auto page = answer_web_request(request.target, runs_dir_))
      return exchange.respond(page->status, page->content_type, std::move(page->body));
  }
  throw ApiError(404, "invalid_request_error",
                 fmt::format("Unknown request URL: {} {}", request.method, path), {},
                 "unknown_url");
}

OpenAiRoutes::Prepared OpenAiRoutes::prepare(std::vector<uint32_t> prompt,
                                             const SamplingRequest& sampling,
                                             const char* prompt_field,
                                             std::vector<uint32_t> stop_tokens,
                                             std::vector<std::string> stop_strings) const {
  if (!sampling.model.empty() && sampling.model != model_.name)
    throw ApiError(404, "invalid_request_error",
                   fmt::format("The model '{}' does not exist; this server holds '{}'",
                               sampling.model, model_.name),
                   "model", "model_not_found");
  const int tokens = static_cast<int>(prompt.size()), room = model_.context - tokens;
  if (room < 1)  // never cut silently: the client decides what to drop
    throw invalid_request(
        fmt::format("This model's maximum context length is {} tokens. However, your {} resulted "
                    "in {} tokens, leaving none for the reply. Please shorten it.",
                    model_.context, prompt_field, tokens),
        prompt_field, "context_length_exceeded");
  Prepared p;
  p.model = model_.name;
  p.request.prompt.assign(prompt.begin(), prompt.end());
  p.request.max_tokens =
      std::min(sampling.max_tokens.value_or(room), room);  // a huge limit means "to the end"
  p.request.sampling = {sampling.temperature, sampling.top_k, sampling.top_p};
  p.request.seed = sampling.seed ? *sampling.seed : std::random_device{}();
  p.request.stop_tokens.assign(stop_tokens.begin(), stop_tokens.end());
  p.stop_strings = sampling.stop;
  p.stop_strings.insert(p.stop_strings.end(), stop_strings.begin(), stop_strings.end());
  return p;
}

void OpenAiRoutes::chat(HttpExchange& exchange) {
  const ChatRequest request = parse_chat_request(exchange.request().body);
  std::vector<uint32_t> prompt;
  try {
    prompt = template_.render(request.messages);
  } catch (const Error& e) {
    throw invalid_request(e.what(), "messages");
  }
  Prepared prepared = prepare(std::move(prompt), request.sampling, "messages",
                              template_.stop_tokens(), template_.stop_strings());
  answer(exchange, true, prepared, request.sampling.stream, request.sampling.include_usage);
}

void OpenAiRoutes::completion(HttpExchange& exchange) {
  const CompletionRequest request = parse_completion_request(exchange.request().body);
  const auto& tokenizer = *model_.tokenizer;
  std::vector<uint32_t> prompt = tokenizer.encode(request.prompt);
  std::vector<uint32_t> stops;
  if (const auto end = tokenizer.special_id("<|endoftext|>")) {
    stops.push_back(*end);
    if (prompt.empty())
      prompt.push_back(*end);  // as `alpha sample`: an empty prompt starts a document
  }
  if (prompt.empty()) throw invalid_request("'prompt' is empty", "prompt");
  Prepared prepared = prepare(std::move(prompt), request.sampling, "prompt", std::move(stops), {});
  answer(exchange, false, prepared, request.sampling.stream, request.sampling.include_usage);
}

void OpenAiRoutes::answer(HttpExchange& exchange, bool chat, Prepared& prepared, bool stream,
                          bool include_usage) {
  const int prompt_tokens = static_cast<int>(prepared.request.prompt.size());
  std::shared_ptr<Generation> generation;
  try {
    generation = scheduler_.submit(std::move(prepared.request));
  } catch (const QueueFull& e) {
    throw ApiError(503, "server_error",
                   fmt::format("The server is busy ({}); retry later", e.what()), {}, "queue_full");
  } catch (const Error& e) {
    throw ApiError(503, "server_error", e.what());
  }
  const AnswerHeader header = new_answer_header(chat, prepared.model);
  ReplyText reply(prepared.stop_strings);
  auto is_gone = [&] { return exchange.client_gone(); };
  auto finish_reason = [](const ReplyOutcome& o) {
    return o.finish == Finish::length ? "length" : "stop";
  };

  if (!stream) {
    std::string text;
    const ReplyOutcome outcome = follow_reply(
        *generation, *model_.tokenizer, reply,
        [&](std::string_view piece) { return text += piece, true; }, is_gone);
    if (outcome.finish == Finish::cancelled)
      generation->cancel();  // nobody to answer; the log shows it
    if (outcome.finish == Finish::error) throw ApiError(503, "server_error", outcome.error);
    const Usage usage{prompt_tokens, outcome.completion_tokens};
    const char* reason = finish_reason(outcome);
    return exchange.respond(200, "application/json",
                            dump(chat ? chat_answer(header, text, reason, usage)
                                      : completion_answer(header, text, reason, usage)));
  }

  if (!exchange.start_events()) return generation->cancel();
  auto send = [&](const json& chunk) { return exchange.send_event(dump(chunk)); };
  if (chat && !send(chat_chunk(header, {{"role", "assistant"}, {"content", ""}}, nullptr)))
    return generation->cancel();
  const ReplyOutcome outcome = follow_reply(
      *generation, *model_.tokenizer, reply,
      [&](std::string_view piece) {
        return send(chat ? chat_chunk(header, {{"content", piece}}, nullptr)
                         : completion_chunk(header, std::string(piece), nullptr));
      },
      is_gone);
  if (outcome.finish == Finish::cancelled) return;  // the client left: nothing more to send
  if (outcome.finish == Finish::error) {  // e.g. shutting down: the stream ends with an error event
    send(error_json(ApiError(503, "server_error", outcome.error)));
    return;
  }
  const char* reason = finish_reason(outcome);
  send(chat ? chat_chunk(header, json::object(), reason) : completion_chunk(header, "", reason));
  if (include_usage) send(usage_chunk(header, chat, {prompt_tokens, outcome.completion_tokens}));
  exchange.send_event("[DONE]");
}

}  // namespace alpha::serve
