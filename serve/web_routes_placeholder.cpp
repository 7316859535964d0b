// Until the web pages land (the web branch replaces this file with serve/web_routes.cpp and its
// embedded assets), no GET target is a page: the API server answers them 404.
#include "serve/web_routes.h"

namespace alpha::serve {

std::optional<WebResponse> answer_web_request(std::string_view, const std::filesystem::path&) {
  return std::nullopt;
}

}  // namespace alpha::serve
