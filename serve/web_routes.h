// The web side of `alpha serve`: the chat page (/), the runs dashboard (/runs, /runs/NAME) and the
// runs JSON API (/api/runs, /api/runs/NAME?since=N), answered from the embedded pages (serve/web/)
// and the run folders under runs_dir. The HTTP server owns sockets, methods and headers; it passes
// each GET request's target here.
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
