// alpha::Error, the one exception type every layer throws for a user-facing failure.
// The CLI prints its message as one line on stderr and exits non-zero; the message should say
// what went wrong and what to do next.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace alpha {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace alpha
