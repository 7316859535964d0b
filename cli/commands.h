// The subcommands of `alpha`: each file cli/cmd_<name>.cpp adds one to the CLI11 app.
// main.cpp only calls these; the commands themselves turn user input into library calls.
#pragma once

#include <CLI/CLI.hpp>

namespace alpha::cli {

void add_devices_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_tokenizer_command(CLI::App& app);
void add_data_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_sample_command(CLI::App& app);
void add_serve_command(CLI::App& app);
void add_chat_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_import_command(CLI::App& app);
void add_fleet_command(CLI::App& app);

}  // namespace alpha::cli
