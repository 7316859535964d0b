// The options by which a command after training picks a run and one of its checkpoints (--run,
// --runs-dir, --checkpoint), shared by `alpha sample`, `alpha eval` and `alpha export`.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "engine/train/checkpoint.h"
#include "engine/train/run.h"

namespace alpha::cli {

struct RunSelection {
  std::string run;  // directory, name under runs_dir, or empty for the latest
  std::string runs_dir = "runs";
  std::string checkpoint = "newest";  // newest | best | STEP | PATH
};

void add_run_selection_options(CLI::App& command, RunSelection& selection);

struct SelectedRun {
  train::Run run;
  train::Checkpoint checkpoint;
};

// Finds and opens the run and reads the chosen checkpoint; errors say which is missing or corrupt.
SelectedRun open_selected_run(const RunSelection& selection);

}  // namespace alpha::cli
