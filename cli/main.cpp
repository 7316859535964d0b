// alpha's entry point: builds the CLI from the subcommands in cli/cmd_*.cpp and turns any error into
// one line on stderr and exit code 1.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/error.h"
#include "version.h"

int main(int argc, char** argv) {
  CLI::App app{"alpha: train and run GPT models on any Vulkan GPU (or the CPU through lavapipe)", "alpha"};
  app.set_version_flag("--version", fmt::format("alpha {} (git {})", ALPHA_VERSION, ALPHA_GIT_COMMIT));
  app.require_subcommand(1);
  app.fallthrough();  // --device and --validate work before or after the subcommand
  auto& global = alpha::cli::global_options();
  app.add_option("--device", global.device, "Vulkan device index (see `alpha devices`); default: ALPHA_DEVICE, else the best")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--validate", global.validation, "Enable the Khronos validation layer");
  app.footer("Run `alpha <command> --help` for a command's options.");
  alpha::cli::add_train_command(app);
  alpha::cli::add_sample_command(app);
  alpha::cli::add_serve_command(app);
  alpha::cli::add_chat_command(app);
  alpha::cli::add_eval_command(app);
  alpha::cli::add_export_command(app);
  alpha::cli::add_import_command(app);
  alpha::cli::add_devices_command(app);
  alpha::cli::add_bench_command(app);
  alpha::cli::add_tokenizer_command(app);
  alpha::cli::add_data_command(app);
  alpha::cli::add_fleet_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const alpha::Error& e) {
    std::fprintf(stderr, "alpha: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alpha: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
