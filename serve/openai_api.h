// The OpenAI API's shapes: request bodies of /v1/chat/completions and /v1/completions parsed and
// checked field by field, and the JSON of answers, stream chunks and errors
// ({"error": {"message", "type", "param", "code"}}). No HTTP and no model here.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template.h"

namespace alpha::serve {

// An answer with an error status, in OpenAI's shape.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, std::string message, std::string param = {},
           std::string code = {})
      : std::runtime_error(message),
        status(status),
        type(std::move(type)),
        param(std::move(param)),
        code(std::move(code)) {}
  int status;
  std::string type, param, code;  // param and code empty: null
};
ApiError invalid_request(std::string message, std::string param = {},
                         std::string code = {});  // 400
nlohmann::json error_json(const ApiError& error);

// The fields chat and text completions share.
struct SamplingRequest {
  std::string model;              // empty when absent
  std::optional<int> max_tokens;  // max_completion_tokens, else max_tokens
  float temperature = 1, top_p = 1;
  int top_k = 0;  // an extension (llama.cpp's and vLLM's name); 0: all tokens
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool stream = false, include_usage = false;
};

struct ChatRequest {
  SamplingRequest sampling;
  std::vector<tok::ChatMessage> messages;
};

struct CompletionRequest {
  SamplingRequest sampling;
  std::string prompt;
};

// Throw ApiError 400 naming the field that is missing or of the wrong type or range.
ChatRequest parse_chat_request(std::string_view body);
CompletionRequest parse_completion_request(std::string_view body);

// Token counts of a finished answer.
struct Usage {
  int prompt_tokens = 0, completion_tokens = 0;
};
nlohmann::json usage_json(const Usage& usage);

// The identity every chunk and answer of one request carries.
struct AnswerHeader {
  std::string id, model;  // id: "chatcmpl-..." or "cmpl-..."
  int64_t created = 0;    // Unix seconds
};
AnswerHeader new_answer_header(bool chat, std::string model);

// finish_reason: "stop" or "length".
nlohmann::json chat_answer(const AnswerHeader& h, const std::string& text,
                           const char* finish_reason, const Usage& usage);
nlohmann::json completion_answer(const AnswerHeader& h, const std::string& text,
                                 const char* finish_reason, const Usage& usage);
// A stream chunk: chat ones carry `delta` (with role in the first), text ones `text`; finish_reason
// null (nullptr) until the last.
nlohmann::json chat_chunk(const AnswerHeader& h, const nlohmann::json& delta,
                          const char* finish_reason);
nlohmann::json completion_chunk(const AnswerHeader& h, const std::string& text,
                                const char* finish_reason);
// stream_options.include_usage: the chunk after the last, with no choices.
nlohmann::json usage_chunk(const AnswerHeader& h, bool chat, const Usage& usage);

// JSON text for the wire: invalid UTF-8 (a reply cut inside a character) becomes U+FFFD.
std::string dump(const nlohmann::json& json);

}  // namespace alpha::serve
