// --run / --runs-dir / --checkpoint (see run_selection.h).
#include "cli/run_selection.h"

namespace alpha::cli {

void add_run_selection_options(CLI::App& command, RunSelection& selection) {
  command.add_option("--run", selection.run,
                     "Run directory or name under --runs-dir (default: the latest run)");
  command.add_option("--runs-dir", selection.runs_dir, "Where run directories are")
      ->capture_default_str();
  command
      .add_option("--checkpoint", selection.checkpoint,
                  "newest (the newest that reads cleanly), best (lowest validation loss), a step "
                  "number, or a "
                  "checkpoint file")
      ->capture_default_str();
}

SelectedRun open_selected_run(const RunSelection& selection) {
  auto run = train::open_run(train::find_run(selection.run, selection.runs_dir));
  auto checkpoint =
      train::load_run_checkpoint(run, selection.checkpoint == "newest" ? "" : selection.checkpoint);
  return {std::move(run), std::move(checkpoint)};
}

}  // namespace alpha::cli
