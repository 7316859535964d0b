// `alpha fleet`: drives the remote machines named in fleet.json over SSH. This file only parses
// arguments; the work is in fleet/ (one file per subcommand family).
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "common/error.h"
#include "fleet/config.h"
#include "fleet/deploy.h"
#include "fleet/download.h"
#include "fleet/keys.h"
#include "fleet/remote_bench.h"
#include "fleet/remote_dir.h"
#include "fleet/setup.h"
#include "fleet/shell_quote.h"
#include "fleet/ssh.h"
#include "fleet/status.h"
#include "fleet/training.h"

namespace alpha::cli {

namespace {

std::string fleet_file;  // --fleet

fleet::Fleet load() {
  return fleet::load_fleet(fleet::fleet_path(fleet_file));
}

fleet::Ssh ssh_to(const std::string& name) {
  return fleet::Ssh(load().find(name), fleet::SshSettings::from_environment());
}

// Ends alpha with a remote command's exit status, as ssh itself would.
void exit_with(int status) {
  if (status != 0) {
    std::fflush(stdout);
    std::exit(status);
  }
}

CLI::App* instance_command(CLI::App* fleet, const char* name, const char* description, std::string& instance) {
  auto* cmd = fleet->add_subcommand(name, description);
  cmd->add_option("instance", instance, "Instance name from the fleet file")->required();
  return cmd;
}

void add_status(CLI::App* fleet) {
  static std::vector<std::string> names;
  auto* cmd = fleet->add_subcommand(
      "status", "Table of instances: reachable, binary current, run, training, step, loss, GPU use (nvidia-smi)");
  cmd->alias("list");
  cmd->add_option("instances", names, "Instances to show (default: all)");
  cmd->callback([] {
    const auto fleet = load();
    std::vector<fleet::Instance> chosen;
    for (const auto& name : names) chosen.push_back(fleet.find(name));
    if (names.empty()) chosen = fleet.instances;
    const auto statuses = fleet::query_statuses(chosen, fleet::SshSettings::from_environment());
    fmt::print("{}", fleet::format_status(statuses));
    int failed = 0;
    for (const auto& status : statuses) failed += !status.error.empty();
    if (failed) fail("{} of {} instances could not be queried (see above)", failed, statuses.size());
  });
}

void add_deploy(CLI::App* fleet) {
  static std::vector<std::string> names;
  static bool all = false;
  auto* cmd = fleet->add_subcommand(
      "deploy", "Upload this alpha where its SHA-256 differs (temp name + rename: a running binary is safe)");
  cmd->add_option("instances", names, "Instances to deploy to");
  cmd->add_flag("--all", all, "Deploy to every instance in the fleet file");
  cmd->callback([] {
    const auto fleet = load();
    if (names.empty() && !all) fail("fleet deploy: name instances, or --all for every one");
    std::vector<fleet::Instance> chosen;
    for (const auto& name : names) chosen.push_back(fleet.find(name));
    if (all) chosen = fleet.instances;
    if (chosen.size() == 1) {
      fleet::Ssh ssh(chosen.front(), fleet::SshSettings::from_environment());
      return fleet::deploy(ssh);
    }
    int failed = 0;
    for (const auto& instance : chosen) {
      try {
        fleet::Ssh ssh(instance, fleet::SshSettings::from_environment());
        fleet::deploy(ssh);
      } catch (const Error& e) {
        std::fprintf(stderr, "alpha: error: %s\n", e.what());
        ++failed;
      }
    }
    if (failed) fail("deploying failed on {} of {} instances", failed, chosen.size());
  });
}

void add_setup(CLI::App* fleet) {
  static std::string instance;
  static bool dry_run = false;
  auto* cmd = instance_command(
      fleet, "setup", "Install the Vulkan loader and drivers there (apt-get/dnf, sudo), deploy, show `alpha devices`",
      instance);
  cmd->add_flag("--dry-run", dry_run, "Print the commands without connecting");
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    fleet::setup(ssh, dry_run);
  });
}

void add_train(CLI::App* fleet) {
  static std::string instance;
  static fleet::TrainRequest request;
  auto* cmd = instance_command(
      fleet, "train", "Start alpha train there, detached (runs/<run>/ gets fleet.pid, train.log); its flags after --",
      instance);
  cmd->add_option("--run", request.run, "Run name (default: fleet-<UTC date>-<time>)");
  // One value per --data: a greedy list would swallow the `--` before alpha train's flags.
  cmd->add_option("--data", request.data, "Training data already there (relative paths start in the deployDir)")
      ->allow_extra_args(false);
  cmd->add_option("--upload-data", request.upload_data,
                  "A local file to copy to the deployDir's data/ first (skipped when unchanged) and train on")
      ->allow_extra_args(false)
      ->check(CLI::ExistingFile);
  cmd->add_flag("--force", request.force, "Start even when another run is training there");
  cmd->add_option("flags", request.flags,
                  "alpha train flags, after `--`; they replace the instance's defaults of the same name (e.g. -- "
                  "--model d6 --steps 5000)");
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    fleet::start_training(ssh, request);
  });
}

void add_resume(CLI::App* fleet) {
  static std::string instance, run;
  static std::vector<std::string> flags;
  static bool force = false;
  auto* cmd = instance_command(fleet, "resume", "Continue a run there from its newest checkpoint, detached", instance);
  cmd->add_option("--run", run, "Run name (default: the newest run alpha fleet started there)");
  cmd->add_flag("--force", force, "Start even when another run is training there");
  cmd->add_option("flags", flags, "More alpha train flags, after `--`");
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    fleet::resume_training(ssh, run, flags, force);
  });
}

void add_stop(CLI::App* fleet) {
  static std::string instance, run;
  static int timeout_s = 120;
  auto* cmd = instance_command(
      fleet, "stop", "SIGINT a run there: it saves a checkpoint and exits (killed after --timeout)", instance);
  cmd->add_option("--run", run, "Run name (default: the newest run alpha fleet started there)");
  cmd->add_option("--timeout", timeout_s, "Seconds to wait for the checkpoint before killing the trainer")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    fleet::stop_training(ssh, run, timeout_s);
  });
}

void add_logs(CLI::App* fleet) {
  static std::string instance, run;
  static int lines = 50;
  static bool follow = false;
  auto* cmd = instance_command(fleet, "logs", "Show a run's train.log there (-f follows it)", instance);
  cmd->add_option("--run", run, "Run name (default: the newest run alpha fleet started there)");
  cmd->add_option("-n,--lines", lines, "Lines from the end")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_flag("-f,--follow", follow, "Keep printing new lines (Ctrl-C to end)");
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    exit_with(fleet::show_logs(ssh, run, lines, follow));
  });
}

void add_ssh(CLI::App* fleet) {
  static std::string instance;
  auto* cmd = instance_command(fleet, "ssh", "Open a login shell there, in the deployDir", instance);
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    const auto dir = fleet::shell_quote(fleet::remote_path(ssh.instance()));
    exit_with(ssh.interactive(fmt::format("cd -- {} 2>/dev/null; exec \"${{SHELL:-/bin/sh}}\" -l", dir), true));
  });
}

void add_run(CLI::App* fleet) {
  static std::string instance;
  static std::vector<std::string> command;
  auto* cmd = instance_command(
      fleet, "run", "Run a command there, in the deployDir, each argument quoted; exits with its status", instance);
  cmd->add_option("command", command, "The command and its arguments, after `--` (for a pipe: -- sh -c 'a | b')")
      ->required();
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    const auto dir = fleet::shell_quote(fleet::remote_path(ssh.instance()));
    exit_with(ssh.interactive(fmt::format("cd -- {} 2>/dev/null; {}", dir, fleet::shell_join(command)), false));
  });
}

void add_sync_keys(CLI::App* fleet) {
  static std::string instance, public_key, authorized_keys = ".ssh/authorized_keys";
  auto* cmd =
      instance_command(fleet, "sync-keys", "Add a local public key to the instance's authorized_keys (once)", instance);
  cmd->add_option("--public-key", public_key,
                  "The .pub file (default: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub)");
  cmd->add_option("--authorized-keys", authorized_keys, "The remote file (relative: from the remote home)")
      ->capture_default_str();
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    fleet::sync_keys(ssh, public_key, authorized_keys);
  });
}

void add_download(CLI::App* fleet) {
  static std::string instance, run, to;
  auto* cmd = instance_command(
      fleet, "download", "Copy a run directory back, skipping files already here with the same SHA-256", instance);
  cmd->add_option("--run", run, "Run name")->required();
  cmd->add_option("--to", to, "Local folder (default: runs/<instance>/<run>)");
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    const std::string target = to.empty() ? fmt::format("runs/{}/{}", instance, run) : to;
    const auto summary = fleet::download_run(ssh, run, target);
    fmt::print("{}: run {} in {}: copied {} file{} ({:.1f} MB), {} already complete\n", instance, run, target,
               summary.copied, summary.copied == 1 ? "" : "s", summary.bytes / 1e6, summary.complete);
  });
}

void add_bench(CLI::App* fleet) {
  static std::string instance, json;
  static std::vector<std::string> flags;
  auto* cmd = instance_command(
      fleet, "bench", "Deploy, run alpha bench --vs-torch there, bring its JSON back, append to perf/history.csv",
      instance);
  cmd->add_option("--json", json, "Where the report lands here (default: runs/fleet-bench/<instance>-<time>.json)");
  cmd->add_option("flags", flags, "More alpha bench flags, after `--` (e.g. -- --model d12 --batch 8)");
  cmd->callback([] {
    auto ssh = ssh_to(instance);
    fleet::remote_bench(ssh, flags, json);
  });
}

}  // namespace

void add_fleet_command(CLI::App& app) {
  auto* fleet = app.add_subcommand("fleet", "Drive remote GPU machines named in fleet.json over SSH");
  fleet->add_option("--fleet", fleet_file, "The fleet file (default: ALPHA_FLEET, else ./fleet.json)");
  fleet->require_subcommand(1);
  fleet->footer(
      "fleet.json: {\"instances\": [{\"name\", \"host\", \"port\", \"user\", \"key\", \"deployDir\", \"gpu\", "
      "\"train\": {flag: value}}]} (see fleet.json.example).\n"
      "Uses the system OpenSSH client: one shared connection per instance, host keys accepted on first use and "
      "checked after. Environment: ALPHA_FLEET_KNOWN_HOSTS (known_hosts file), ALPHA_FLEET_CONNECT_TIMEOUT "
      "(seconds, 10), ALPHA_FLEET_ATTEMPTS (tries for an unreachable host, 3), ALPHA_FLEET_CONTROL_DIR (socket "
      "folder).");
  add_status(fleet);
  add_deploy(fleet);
  add_setup(fleet);
  add_train(fleet);
  add_resume(fleet);
  add_stop(fleet);
  add_logs(fleet);
  add_ssh(fleet);
  add_run(fleet);
  add_sync_keys(fleet);
  add_download(fleet);
  add_bench(fleet);
}

}  // namespace alpha::cli
