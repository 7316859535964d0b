// POSIX shell quoting for the command lines alpha fleet sends over SSH: the remote shell sees each
// argument as exactly one word, whatever spaces, quotes, $ or ; it holds.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace alpha::fleet {

// `s` as one shell word: unchanged when it holds only [A-Za-z0-9_./:,+@%-] and is not empty, else in
// single quotes with each ' written as '\''. `=` is quoted too: unquoted, a first word A=b is an assignment.
std::string shell_quote(std::string_view s);

// The words of `argv`, each quoted, separated by spaces.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace alpha::fleet
