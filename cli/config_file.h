// `--config=FILE` for a subcommand: a JSON object whose keys are the command's long option names
// (with or without the dashes; `_` and `-` alike) and whose values are what the flag would take.
// Options also given on the command line keep the command line's value.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>

namespace alpha::cli {

// Call from the command's callback, after CLI11 has parsed the command line. Throws alpha::Error
// naming the file and the bad key (unknown option, wrong type, unreadable or malformed file).
void apply_config_file(CLI::App& command, const std::filesystem::path& path);

}  // namespace alpha::cli
