// The pages of serve/web/, embedded at build time by serve/embed_web.py (its shared CSS and JS
// already inlined), looked up by file name.
#pragma once

#include <string_view>

namespace alpha::serve {

// The page called `name` (e.g. "chat.html"); empty when there is none.
std::string_view web_asset(std::string_view name);

}  // namespace alpha::serve
