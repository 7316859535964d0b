// The web pages' routes (the chat page, the runs dashboard and its JSON API): answered from assets
// embedded in the binary. The API server sends every GET that is not an API endpoint here.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace alpha::serve {

struct WebResponse {
  int status;
  std::string content_type;
  std::string body;
};

// Answers GET requests for the chat page (/), the runs dashboard (/runs, /runs/NAME) and the runs
// JSON API
// (/api/runs, /api/runs/NAME?since=N); std::nullopt when the target (path plus query) is none of
// them.
std::optional<WebResponse> answer_web_request(std::string_view target,
                                              const std::filesystem::path& runs_dir);

}  // namespace alpha::serve
