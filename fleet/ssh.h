// The system OpenSSH client, driven for one instance: one shared connection per instance
// (ControlMaster, kept open for a short while after its last use), a connect timeout, retries with
// backoff for failures that may pass, and a clear message at once for those that will not (refused
// key, changed host key). Host keys are accepted on first sight and checked ever after.
#pragma once

#include <string>
#include <vector>

#include "fleet/config.h"
#include "fleet/process.h"

namespace alpha::fleet {

struct SshSettings {
  std::string known_hosts;     // ALPHA_FLEET_KNOWN_HOSTS; empty: ssh's own (~/.ssh/known_hosts)
  std::string control_dir;     // ALPHA_FLEET_CONTROL_DIR, else $XDG_RUNTIME_DIR/alpha-fleet, else
                               // /tmp/alpha-fleet-<uid>: a private folder for the shared-connection sockets
  int connect_timeout_s = 10;  // ALPHA_FLEET_CONNECT_TIMEOUT
  int attempts = 3;            // ALPHA_FLEET_ATTEMPTS: tries when connecting fails in a way that may pass
  int persist_s = 60;          // seconds a shared connection stays open after its last use

  static SshSettings from_environment();
};

enum class SshFailure {
  None,             // not an ssh failure: the remote command's own status
  HostKeyChanged,   // the host's key differs from the one in known_hosts
  HostKeyRejected,  // host key verification failed otherwise
  KeyRefused,       // the server did not accept our key
  KeyUnusable,      // ssh would not use the private key file (permissions, format)
  Unreachable,      // refused, timed out, no route, closed during the handshake: worth retrying
  UnknownHost,      // the name does not resolve
};

struct SshDiagnosis {
  SshFailure failure = SshFailure::None;
  std::string line;  // ssh's own words, the most telling line
};

// What ssh's stderr says went wrong when it exited with 255.
SshDiagnosis diagnose_ssh_error(const std::string& stderr_text);

class Ssh {
 public:
  Ssh(Instance instance, SshSettings settings);

  const Instance& instance() const { return instance_; }

  // Opens the shared connection unless this object already has: retries an unreachable host with
  // backoff (1 s, 2 s, ...) up to `attempts` times; throws alpha::Error saying what to do otherwise.
  void connect();

  // Runs `command` (a shell command line whose arguments are already quoted) on the instance.
  // Throws for ssh's own failures it can recognise; `status` is the remote command's exit status.
  ProcessResult run(const std::string& command, const ProcessIo& io = {});

  // run() with output captured; throws alpha::Error "<instance>: <what> failed: <stderr>" when the
  // command exits non-zero. Returns its stdout.
  std::string check(const std::string& command, const std::string& what);

  // Runs `command` there with this process's stdin, stdout and stderr (-t: with a terminal, for a
  // login shell or Ctrl-C reaching the remote command). Returns the remote exit status.
  int interactive(const std::string& command, bool tty);

  // Copies a file between here and there over the shared connection (`cat` at the remote end).
  void upload(const std::string& local_path, const std::string& remote_path);
  void download(const std::string& remote_path, const std::string& local_path);

  // The ssh argv that runs `command` there (empty: a login shell); -t for an interactive terminal.
  std::vector<std::string> command_line(const std::string& command, bool tty = false) const;

 private:
  [[noreturn]] void fail_connect(const SshDiagnosis& diagnosis, int tries) const;
  // Runs `command` (a `cat` at the remote end) with `io` redirected to or from the local file.
  void copy(const std::string& command, const ProcessIo& io, const std::string& from, const std::string& to);

  Instance instance_;
  SshSettings settings_;
  std::string control_path_;
  bool connected_ = false;
};

}  // namespace alpha::fleet
