// URL routing of the web pages and the runs JSON API (see web_routes.h). A run name in a URL is
// percent-decoded, must be one path segment, and is then looked up in the listing of runs_dir
// (runs_index.h): no path is ever built from what a request says.
#include "serve/web_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "serve/runs_index.h"
#include "serve/web_assets.h"

namespace alpha::serve {

namespace {

using nlohmann::json;

WebResponse page(std::string_view name) {
  return {200, "text/html; charset=utf-8", std::string(web_asset(name))};
}

WebResponse json_response(int status, const json& body) {
  // samples may hold a token's half of a UTF-8 character: shown as U+FFFD, not an exception
  return {status, "application/json", body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

// The OpenAI-shaped error body that the API's clients (and the pages) already read.
WebResponse json_error(int status, const std::string& message) {
  const char* type = status == 404 ? "not_found_error" : "invalid_request_error";
  return json_response(status, {{"error", {{"message", message}, {"type", type}}}});
}

std::string html_escape(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

WebResponse html_error(int status, const std::string& message) {
  return {status, "text/html; charset=utf-8",
          "<!doctype html><meta charset=utf-8><title>alpha runs</title>"
          "<body style=\"font:16px system-ui,sans-serif;margin:3em\"><p>" +
              html_escape(message) + "</p><p><a href=\"/runs\">All runs</a></p></body>"};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "%2e%2E" -> ".."; std::nullopt for a '%' without two hex digits after it.
std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_digit(text[i + 1]), low = hex_digit(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// A decoded run name that can be one folder of runs_dir: one path segment, not "." or "..".
bool is_folder_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

// The value of `key` in a query string ("a=1&since=5"); std::nullopt when it is not there.
std::optional<std::string_view> query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    if (pair.starts_with(key) && pair.size() > key.size() && pair[key.size()] == '=')
      return pair.substr(key.size() + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// /runs/NAME (the page) or, `api`, /api/runs/NAME?since=N (its JSON).
WebResponse answer_run(std::string_view encoded_name, std::string_view query,
                       const std::filesystem::path& runs_dir, bool api) {
  const auto error = api ? json_error : html_error;
  const auto name = percent_decode(encoded_name);
  if (!name || !is_folder_name(*name))
    return error(400, "not a run name: a run is one folder of the runs directory");
  const auto folder = find_run_folder(runs_dir, *name);
  if (!folder) return error(404, "no run called " + *name + " in the runs directory");
  if (!api) return page("run.html");
  int64_t since = 0;
  if (const auto value = query_value(query, "since")) {
    const auto end = value->data() + value->size();
    const auto parsed = std::from_chars(value->data(), end, since);
    if (value->empty() || parsed.ec != std::errc() || parsed.ptr != end || since < 0)
      return error(400, "since must be a line number (0 or more)");
  }
  return json_response(200, run_details(*folder, since));
}

}  // namespace

std::optional<WebResponse> answer_web_request(std::string_view target,
                                              const std::filesystem::path& runs_dir) {
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  const auto query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  if (path == "/") return page("chat.html");
  if (path == "/runs" || path == "/runs/") return page("runs.html");
  if (path == "/api/runs" || path == "/api/runs/")
    return json_response(200, runs_summary(runs_dir));
  if (path.starts_with("/runs/")) return answer_run(path.substr(6), query, runs_dir, false);
  if (path.starts_with("/api/runs/")) return answer_run(path.substr(10), query, runs_dir, true);
  return std::nullopt;
}

}  // namespace alpha::serve
