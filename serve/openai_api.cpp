// Request parsing and answer shapes of the OpenAI API (see openai_api.h).
#include "serve/openai_api.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>

namespace alpha::serve {

using nlohmann::json;

ApiError invalid_request(std::string message, std::string param, std::string code) {
  return ApiError(400, "invalid_request_error", std::move(message), std::move(param),
                  std::move(code));
}

json error_json(const ApiError& error) {
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  return {{"error",
           {{"message", error.what()},
            {"type", error.type},
            {"param", or_null(error.param)},
            {"code", or_null(error.code)}}}};
}

std::string dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

json parse_object(std::string_view body) {
  json root = json::parse(body, nullptr, false);
  if (root.is_discarded())
    throw invalid_request("the request body is not valid JSON", {}, "invalid_json");
  if (!root.is_object()) throw invalid_request("the request body must be a JSON object");
  return root;
}

const json* field(const json& object, const char* name) {
  const auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

ApiError wrong_type(const std::string& name, const char* wanted) {
  return invalid_request(fmt::format("'{}' must be {}", name, wanted), name);
}

double number_in(const json& object, const char* name, double low, double high, double fallback) {
  const json* value = field(object, name);
  if (!value) return fallback;
  if (!value->is_number()) throw wrong_type(name, "a number");
  const double x = value->get<double>();
  if (!(x >= low && x <= high))
    throw invalid_request(fmt::format("'{}' must be in [{}, {}], not {}", name, low, high, x),
                          name);
  return x;
}

std::optional<int64_t> integer_at_least(const json& object, const char* name, int64_t low) {
  const json* value = field(object, name);
  if (!value) return std::nullopt;
  if (!value->is_number_integer()) throw wrong_type(name, "an integer");
  const int64_t x = value->is_number_unsigned() && value->get<uint64_t>() > uint64_t(INT64_MAX)
                        ? INT64_MAX
                        : value->get<int64_t>();
  if (x < low)
    throw invalid_request(fmt::format("'{}' must be at least {}, not {}", name, low, x), name);
  return x;
}

bool boolean(const json& object, const char* name) {
  const json* value = field(object, name);
  if (!value) return false;
  if (!value->is_boolean()) throw wrong_type(name, "true or false");
  return value->get<bool>();
}

SamplingRequest parse_sampling(const json& root) {
  SamplingRequest s;
  if (const json* model = field(root, "model")) {
    if (!model->is_string()) throw wrong_type("model", "a string");
    s.model = model->get<std::string>();
  }
  // max_completion_tokens is the newer name; huge values are clamped to the context later
  for (const char* name : {"max_tokens", "max_completion_tokens"})
    if (const auto n = integer_at_least(root, name, 1))
      s.max_tokens = static_cast<int>(std::min<int64_t>(*n, INT32_MAX));
  s.temperature = static_cast<float>(number_in(root, "temperature", 0, 2, 1));
  s.top_p = static_cast<float>(number_in(root, "top_p", 0, 1, 1));
  if (s.top_p == 0) throw invalid_request("'top_p' must be above 0", "top_p");
  s.top_k = static_cast<int>(
      std::min<int64_t>(integer_at_least(root, "top_k", 0).value_or(0), INT32_MAX));
  if (const json* seed = field(root, "seed")) {
    if (!seed->is_number_integer()) throw wrong_type("seed", "an integer");
    s.seed = seed->is_number_unsigned() ? seed->get<uint64_t>()
                                        : static_cast<uint64_t>(seed->get<int64_t>());
  }
  if (const json* stop = field(root, "stop")) {
    if (stop->is_string()) {
      s.stop.push_back(stop->get<std::string>());
    } else if (stop->is_array() && stop->size() <= 16) {
      for (const auto& item : *stop) {
        if (!item.is_string()) throw wrong_type("stop", "a string or a list of at most 16 strings");
        s.stop.push_back(item.get<std::string>());
      }
    } else {
      throw wrong_type("stop", "a string or a list of at most 16 strings");
    }
  }
  if (const auto n = integer_at_least(root, "n", 1); n && *n != 1)
    throw invalid_request("only n = 1 is supported", "n");
  s.stream = boolean(root, "stream");
  if (const json* options = field(root, "stream_options")) {
    if (!options->is_object()) throw wrong_type("stream_options", "an object");
    s.include_usage = boolean(*options, "include_usage");
  }
  return s;
}

// content: a string, or a list of parts of which the text ones count ({"type": "text", "text":
// ...})
std::string message_content(const json& message, size_t index) {
  const std::string name = fmt::format("messages[{}].content", index);
  const json* content = field(message, "content");
  if (!content) {
    if (message.value("role", "") == "assistant")
      return "";  // an assistant turn with tool calls only
    throw invalid_request(fmt::format("'{}' is missing", name), name);
  }
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) throw wrong_type(name, "a string or a list of text parts");
  std::string text;
  for (const auto& part : *content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
        !part["text"].is_string())
      throw invalid_request(
          fmt::format("'{}' may only hold text parts ({{\"type\": \"text\", \"text\": ...}})",
                      name),
          name);
    text += part["text"].get<std::string>();
  }
  return text;
}

}  // namespace

ChatRequest parse_chat_request(std::string_view body) {
  const json root = parse_object(body);
  ChatRequest request{parse_sampling(root), {}};
  const json* messages = field(root, "messages");
  if (!messages) throw invalid_request("'messages' is missing", "messages");
  if (!messages->is_array() || messages->empty())
    throw wrong_type("messages", "a non-empty list of messages");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string role_name = fmt::format("messages[{}].role", i);
    if (!m.is_object()) throw wrong_type(fmt::format("messages[{}]", i), "an object");
    const json* role = field(m, "role");
    if (!role || !role->is_string()) throw wrong_type(role_name, "a string");
    std::string r = role->get<std::string>();
    if (r == "developer") r = "system";  // the newer name of the system role
    if (r != "system" && r != "user" && r != "assistant")
      throw invalid_request(
          fmt::format("'{}' must be system, user or assistant, not '{}'", role_name, r), role_name);
    request.messages.push_back({r, message_content(m, i)});
  }
  return request;
}

CompletionRequest parse_completion_request(std::string_view body) {
  const json root = parse_object(body);
  CompletionRequest request{parse_sampling(root), {}};
  const json* prompt = field(root, "prompt");
  if (!prompt) throw invalid_request("'prompt' is missing", "prompt");
  if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) prompt = &(*prompt)[0];
  if (!prompt->is_string()) throw wrong_type("prompt", "a string (one prompt per request)");
  request.prompt = prompt->get<std::string>();
  return request;
}

json usage_json(const Usage& usage) {
  return {{"prompt_tokens", usage.prompt_tokens},
          {"completion_tokens", usage.completion_tokens},
          {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
}

AnswerHeader new_answer_header(bool chat, std::string model) {
  static std::atomic<uint64_t> counter = std::random_device{}();
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return {fmt::format("{}-{:016x}", chat ? "chatcmpl" : "cmpl", counter++), std::move(model),
          std::chrono::duration_cast<std::chrono::seconds>(now).count()};
}

static json answer(const AnswerHeader& h, const char* object, json choice, const json& usage) {
  choice["index"] = 0;
  choice["logprobs"] = nullptr;
  json out = {{"id", h.id},
              {"object", object},
              {"created", h.created},
              {"model", h.model},
              {"choices", json::array({std::move(choice)})}};
  if (!usage.is_null()) out["usage"] = usage;
  return out;
}

static json reason(const char* finish_reason) {
  return finish_reason ? json(finish_reason) : json(nullptr);
}

json chat_answer(const AnswerHeader& h, const std::string& text, const char* finish_reason,
                 const Usage& usage) {
  return answer(h, "chat.completion",
                {{"message", {{"role", "assistant"}, {"content", text}}},
                 {"finish_reason", reason(finish_reason)}},
                usage_json(usage));
}

json completion_answer(const AnswerHeader& h, const std::string& text, const char* finish_reason,
                       const Usage& usage) {
  return answer(h, "text_completion", {{"text", text}, {"finish_reason", reason(finish_reason)}},
                usage_json(usage));
}

json chat_chunk(const AnswerHeader& h, const json& delta, const char* finish_reason) {
  return answer(h, "chat.completion.chunk",
                {{"delta", delta}, {"finish_reason", reason(finish_reason)}}, nullptr);
}

json completion_chunk(const AnswerHeader& h, const std::string& text, const char* finish_reason) {
  return answer(h, "text_completion", {{"text", text}, {"finish_reason", reason(finish_reason)}},
                nullptr);
}

json usage_chunk(const AnswerHeader& h, bool chat, const Usage& usage) {
  return {{"id", h.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"choices", json::array()},
          {"usage", usage_json(usage)}};
}

}  // namespace alpha::serve
