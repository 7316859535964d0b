// Starting, stopping and watching remote training (see training.h).
#include "fleet/training.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/error.h"
#include "fleet/deploy.h"
#include "fleet/remote_dir.h"
#include "fleet/shell_quote.h"

namespace alpha::fleet {

namespace {

// "--name=value" or "--name" -> "name"; empty for anything else (a value).
std::string flag_name(const std::string& token) {
  if (!token.starts_with("--") || token.size() == 2) return "";
  return token.substr(2, token.find('=') - 2);
}

void reject_reserved_flags(const std::vector<std::string>& flags) {
  for (const auto& token : flags)
    if (is_fleet_train_flag(flag_name(token)))
      fail("--{} is set by alpha fleet itself: use `alpha fleet train --run` and `alpha fleet resume` instead",
           flag_name(token));
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::string utc_now(const char* format) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  return fmt::format(fmt::runtime(format), fmt::gmtime(now));
}

void require_deployed(Ssh& ssh) {
  const auto& instance = ssh.instance();
  ssh.check(fmt::format("{} && {{ [ -x ./alpha ] || {{ echo {} >&2; exit 3; }}; }}", enter_deploy_dir(instance),
                        shell_quote(fmt::format("alpha is not deployed in {}: run `alpha fleet deploy {}` first",
                                                remote_path(instance), instance.name))),
            "looking for the deployed alpha");
}

// The runs whose trainer is alive there.
std::vector<std::string> running_runs(Ssh& ssh) {
  return lines_of(ssh.check(
      fmt::format("{}\ncd -- {} 2>/dev/null || exit 0\n"
                  "for p in runs/*/fleet.pid; do\n"
                  "  if [ -f \"$p\" ] && alpha_running \"$p\"; then d=${{p%/fleet.pid}}; echo \"${{d#runs/}}\"; fi\n"
                  "done\n",
                  kAlphaRunningFunction, shell_quote(remote_path(ssh.instance()))),
      "looking for running trainers"));
}

// Refuses to start `run` while it trains, and while another run trains unless `force`.
void check_not_running(Ssh& ssh, const std::string& run, bool force) {
  const auto running = running_runs(ssh);
  const auto& name = ssh.instance().name;
  if (std::find(running.begin(), running.end(), run) != running.end())
    fail("{}: run {} is training there now: `alpha fleet stop {} --run {}` first", name, run, name, run);
  if (!running.empty() && !force)
    fail(
        "{}: run {} is training there now; stop it (`alpha fleet stop {} --run {}`) or add --force to start "
        "another beside it",
        name, running.front(), name, running.front());
}

// Starts `argv` detached in the run directory's session: fleet.pid holds its pid, train.log its
// output. Waits two seconds and reports a trainer that has already stopped.
void launch(Ssh& ssh, const std::string& run, const std::vector<std::string>& argv, const std::string& banner) {
  const std::string dir = run_dir(run);
  const std::string pid_file = shell_quote(dir + "/fleet.pid"), log = shell_quote(dir + "/train.log");
  // sh writes its own pid, then becomes alpha: the pid file names the trainer, not a wrapper.
  const std::string script = fmt::format(
      "{enter} || exit\n"
      "{running}\n"
      "command -v setsid >/dev/null 2>&1 || {{ echo 'setsid is missing there (package util-linux)' >&2; exit 5; }}\n"
      "mkdir -p -- {dir} || exit\n"
      "printf '%s\\n' \"=== alpha fleet: {banner} at $(date -u '+%Y-%m-%d %H:%M:%S UTC') ===\" >> {log}\n"
      "start=$(wc -c < {log})\n"  // what this start adds to the log begins after byte $start
      "setsid nohup sh -c {exec} {pid} {argv} </dev/null >>{log} 2>&1 &\n"
      "sleep 2\n"
      "if alpha_running {pid}; then cat {pid}; exit 0; fi\n"
      "tail -c +$((start + 1)) {log} | tail -n 15 >&2\n"
      "tail -c +$((start + 1)) {log} | grep -q '^run saved in' && exit 0\n"
      "exit 6\n",
      fmt::arg("enter", enter_deploy_dir(ssh.instance())), fmt::arg("running", kAlphaRunningFunction),
      fmt::arg("dir", shell_quote(dir)), fmt::arg("banner", banner), fmt::arg("log", log),
      fmt::arg("exec", shell_quote("echo $$ > \"$0\"; exec \"$@\"")), fmt::arg("pid", pid_file),
      fmt::arg("argv", shell_join(argv)));
  auto result = ssh.run(script);
  const auto& name = ssh.instance().name;
  if (result.status == 6)
    fail("{}: the trainer of run {} stopped at once; the end of its log:\n{}", name, run, result.err);
  if (result.status != 0) fail("{}: starting run {} failed (exit status {}): {}", name, run, result.status, result.err);
  const auto pid = lines_of(result.out);
  if (pid.empty()) {
    fmt::print("{}: run {} finished already:\n{}", name, run, result.err);
    return;
  }
  fmt::print("{}: {} run {} (pid {}); follow it with `alpha fleet logs {} --run {} -f`\n", name, banner, run,
             pid.front(), name, run);
}

}  // namespace

std::vector<std::string> merge_train_flags(const std::vector<std::pair<std::string, std::string>>& defaults,
                                           const std::vector<std::string>& flags,
                                           const std::vector<std::string>& data) {
  reject_reserved_flags(flags);
  std::set<std::string> given;
  for (const auto& token : flags)
    if (auto name = flag_name(token); !name.empty()) given.insert(name);
  if (!data.empty()) given.insert("data");
  std::vector<std::string> merged;
  for (const auto& [name, value] : defaults)
    if (!given.count(name)) merged.push_back(value.empty() ? "--" + name : fmt::format("--{}={}", name, value));
  for (const auto& path : data) merged.push_back("--data=" + path);
  merged.insert(merged.end(), flags.begin(), flags.end());
  return merged;
}

std::string latest_run(Ssh& ssh) {
  const auto& instance = ssh.instance();
  const auto newest = lines_of(
      ssh.check(fmt::format("{} && {{ ls -t runs/*/fleet.pid 2>/dev/null | head -n 1; }}", enter_deploy_dir(instance)),
                "looking for the newest run"));
  if (newest.empty())
    fail("{}: no run started by alpha fleet in {}: name one with --run", instance.name, remote_path(instance, "runs"));
  const std::string& path = newest.front();  // runs/<run>/fleet.pid
  return path.substr(5, path.size() - 5 - std::string("/fleet.pid").size());
}

std::string start_training(Ssh& ssh, const TrainRequest& request) {
  namespace fs = std::filesystem;
  const auto& instance = ssh.instance();
  const std::string run = request.run.empty() ? utc_now("fleet-{:%Y%m%d-%H%M%S}") : request.run;
  const std::string dir = run_dir(run);
  require_deployed(ssh);
  check_not_running(ssh, run, request.force);
  ssh.check(fmt::format("{} && {{ [ ! -e {} ] || {{ echo {} >&2; exit 3; }}; }}", enter_deploy_dir(instance),
                        shell_quote(dir + "/config.json"),
                        shell_quote(fmt::format("run {} already exists there: pick another --run, or `alpha fleet "
                                                "resume {} --run {}`",
                                                run, instance.name, run))),
            "checking the run name");

  std::vector<std::string> data = request.data;
  std::set<std::string> uploaded_names;
  for (const auto& local : request.upload_data) {
    const std::string name = fs::path(local).filename().string();
    if (!uploaded_names.insert(name).second)
      fail("--upload-data: two files are named {}; they would land on the same remote data/{}", name, name);
    const auto result = upload_if_changed(ssh, local, "data/" + name, false);
    fmt::print("{}: {} data/{} ({:.1f} MB)\n", instance.name, result.uploaded ? "uploaded" : "up to date:", name,
               result.bytes / 1e6);
    data.push_back("data/" + name);
  }
  const auto flags = merge_train_flags(instance.train_flags, request.flags, data);
  std::vector<std::string> remote_data;
  for (size_t i = 0; i < flags.size(); ++i) {
    if (flags[i].starts_with("--data=")) remote_data.push_back(flags[i].substr(7));
    if (flags[i] == "--data" && i + 1 < flags.size()) remote_data.push_back(flags[i + 1]);
  }
  if (remote_data.empty())
    fail(
        "{}: no training data: pass --data=REMOTE_PATH or --upload-data=LOCAL_FILE, or set \"train\": "
        "{{\"data\": ...}} for the instance in the fleet file",
        instance.name);
  std::string checks;
  for (const auto& path : remote_data)  // globs are alpha train's to expand
    if (path.find_first_of("*?[") == std::string::npos)
      checks += fmt::format("[ -e {0} ] || echo {0}\n", shell_quote(path));
  const auto missing = lines_of(ssh.check(enter_deploy_dir(instance) + "\n" + checks, "checking the data paths"));
  if (!missing.empty())
    fail("{}: the data {} does not exist there (relative paths start in {})", instance.name, missing.front(),
         remote_path(instance));

  std::vector<std::string> argv = {"./alpha", "train", "--run", run, "--runs-dir", "runs", "--cache-dir", "cache"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  launch(ssh, run, argv, "started");
  return run;
}

std::string resume_training(Ssh& ssh, std::string run, const std::vector<std::string>& flags, bool force) {
  reject_reserved_flags(flags);
  const auto& instance = ssh.instance();
  require_deployed(ssh);
  if (run.empty()) run = latest_run(ssh);
  const std::string dir = run_dir(run);
  ssh.check(
      fmt::format("{} && {{ [ -f {} ] || {{ echo {} >&2; exit 3; }}; }}", enter_deploy_dir(instance),
                  shell_quote(dir + "/config.json"),
                  shell_quote(fmt::format("there is no run {} in {} to resume", run, remote_path(instance, "runs")))),
      "looking for the run");
  check_not_running(ssh, run, force);
  std::vector<std::string> argv = {"./alpha", "train", "--resume=" + dir, "--runs-dir", "runs"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  launch(ssh, run, argv, "resumed");
  return run;
}

void stop_training(Ssh& ssh, std::string run, int timeout_s) {
  const auto& instance = ssh.instance();
  if (run.empty()) run = latest_run(ssh);
  const std::string dir = run_dir(run);
  const std::string pid_file = shell_quote(dir + "/fleet.pid");
  // SIGINT: the trainer finishes its step, writes a checkpoint and exits. Its handler then falls back
  // to the default, so the SIGTERM after the timeout ends it at once.
  const std::string script = fmt::format(
      "{enter}\n{running}\n"
      "alpha_running {pid} || {{ echo not-running; exit 0; }}\n"
      "kill -INT \"$pid\"\n"
      "ticks=0\n"
      "while alpha_running {pid}; do\n"
      "  if [ $ticks -ge {ticks} ]; then\n"
      "    kill -TERM \"$pid\"; sleep 2\n"
      "    alpha_running {pid} && kill -KILL \"$pid\"\n"
      "    echo killed; exit 0\n"
      "  fi\n"
      "  sleep 0.2; ticks=$((ticks + 1))\n"
      "done\n"
      "echo stopped\n",
      fmt::arg("enter", enter_deploy_dir(instance)), fmt::arg("running", kAlphaRunningFunction),
      fmt::arg("pid", pid_file), fmt::arg("ticks", timeout_s * 5));
  const auto outcome = lines_of(ssh.check(script, "stopping run " + run));
  const std::string what = outcome.empty() ? "" : outcome.back();
  if (what == "not-running") {
    fmt::print("{}: run {} is not training\n", instance.name, run);
    return;
  }
  const auto newest = lines_of(ssh.check(fmt::format("{} && {{ ls {} 2>/dev/null | tail -n 1; }}",
                                                     enter_deploy_dir(instance), shell_quote(dir + "/checkpoints")),
                                         "looking for checkpoints"));
  const std::string checkpoint = newest.empty() ? "none" : newest.back();
  if (what == "killed")
    fmt::print("{}: run {} did not stop within {} s of SIGINT and was killed; newest checkpoint: {}\n", instance.name,
               run, timeout_s, checkpoint);
  else
    fmt::print("{}: run {} stopped; newest checkpoint: {} (continue with `alpha fleet resume {} --run {}`)\n",
               instance.name, run, checkpoint, instance.name, run);
}

int show_logs(Ssh& ssh, std::string run, int lines, bool follow) {
  const auto& instance = ssh.instance();
  if (run.empty()) run = latest_run(ssh);
  const std::string log = shell_quote(run_dir(run) + "/train.log");
  ssh.check(fmt::format("{} && {{ [ -f {} ] || {{ echo {} >&2; exit 3; }}; }}", enter_deploy_dir(instance), log,
                        shell_quote(fmt::format("run {} has no train.log there", run))),
            "looking for the log");
  return ssh.interactive(
      fmt::format("{} && exec tail -n {} {}-- {}", enter_deploy_dir(instance), lines, follow ? "-f " : "", log),
      follow && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
}

}  // namespace alpha::fleet
