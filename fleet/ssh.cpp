// OpenSSH command lines, failure diagnosis and retries (see ssh.h).
#include "fleet/ssh.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/error.h"
#include "fleet/shell_quote.h"

namespace alpha::fleet {

namespace {

int env_int(const char* name, int fallback, int min, int max) {
  const char* text = std::getenv(name);
  if (!text || !*text) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (*end || errno || value < min || value > max)
    fail("{}={}: expected a whole number from {} to {}", name, text, min, max);
  return static_cast<int>(value);
}

std::string env_string(const char* name) {
  const char* text = std::getenv(name);
  return text ? text : "";
}

// A folder only we can use, created if missing: other users must not reach our shared connections.
void ensure_private_dir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    fail("cannot create {} for SSH connection sockets: {}", dir, std::strerror(errno));
  struct stat info {};
  if (lstat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode) || info.st_uid != getuid() || (info.st_mode & 077))
    fail(
        "{} holds the SSH connection sockets and must be a folder owned by you with no access for others: "
        "chmod 700 it, or point ALPHA_FLEET_CONTROL_DIR at another",
        dir);
}

// FNV-1a: a short stable name for one connection's socket.
uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) hash = (hash ^ c) * 1099511628211ull;
  return hash;
}

bool contains(const std::string& text, const char* part) {
  return text.find(part) != std::string::npos;
}

// The known_hosts name ssh uses for host:port.
std::string known_hosts_name(const Instance& instance) {
  return instance.port == 22 ? instance.host : fmt::format("[{}]:{}", instance.host, instance.port);
}

}  // namespace

SshSettings SshSettings::from_environment() {
  SshSettings settings;
  settings.known_hosts = env_string("ALPHA_FLEET_KNOWN_HOSTS");
  settings.control_dir = env_string("ALPHA_FLEET_CONTROL_DIR");
  if (settings.control_dir.empty()) {
    const std::string runtime = env_string("XDG_RUNTIME_DIR");
    settings.control_dir = !runtime.empty() ? runtime + "/alpha-fleet" : fmt::format("/tmp/alpha-fleet-{}", getuid());
  }
  settings.connect_timeout_s = env_int("ALPHA_FLEET_CONNECT_TIMEOUT", settings.connect_timeout_s, 1, 600);
  settings.attempts = env_int("ALPHA_FLEET_ATTEMPTS", settings.attempts, 1, 20);
  return settings;
}

SshDiagnosis diagnose_ssh_error(const std::string& stderr_text) {
  // The most telling line: the last one that is not part of ssh's @@@ banner or a warning.
  std::string line;
  std::istringstream lines(stderr_text);
  for (std::string l; std::getline(lines, l);) {
    if (!l.empty() && l.back() == '\r') l.pop_back();
    if (!l.empty() && l[0] != '@' && !l.starts_with("Warning:")) line = l;
  }
  const auto& t = stderr_text;
  SshFailure failure = SshFailure::None;
  if (contains(t, "REMOTE HOST IDENTIFICATION HAS CHANGED") || contains(t, "has changed and you have requested"))
    failure = SshFailure::HostKeyChanged;
  else if (contains(t, "Host key verification failed"))
    failure = SshFailure::HostKeyRejected;
  else if (contains(t, "UNPROTECTED PRIVATE KEY FILE") || contains(t, "bad permissions") ||
           contains(t, "invalid format") || contains(t, "not accessible"))
    failure = SshFailure::KeyUnusable;
  else if (contains(t, "Permission denied") || contains(t, "Too many authentication failures"))
    failure = SshFailure::KeyRefused;
  else if (contains(t, "Could not resolve hostname") && !contains(t, "Temporary failure"))
    failure = SshFailure::UnknownHost;
  else if (contains(t, "Connection refused") || contains(t, "timed out") || contains(t, "No route to host") ||
           contains(t, "Network is unreachable") || contains(t, "Connection reset") ||
           contains(t, "Connection closed") || contains(t, "kex_exchange_identification") ||
           contains(t, "Temporary failure in name resolution") || contains(t, "Broken pipe"))
    failure = SshFailure::Unreachable;
  return {failure, line};
}

Ssh::Ssh(Instance instance, SshSettings settings) : instance_(std::move(instance)), settings_(std::move(settings)) {
  // Everything that decides whom we talk to and how is in the socket's name, so a connection opened
  // with another key or known_hosts file is never reused for this one.
  const uint64_t hash = fnv1a(fmt::format("{}\n{}\n{}\n{}\n{}", instance_.host, instance_.port, instance_.user,
                                          instance_.key, settings_.known_hosts));
  control_path_ = fmt::format("{}/{:016x}", settings_.control_dir, hash);
  // ssh adds a 17-character suffix while it creates the socket; unix socket paths end at 107 bytes.
  if (control_path_.size() > 88)
    fail("the SSH socket path {} is too long for a unix socket: set ALPHA_FLEET_CONTROL_DIR to a shorter folder",
         control_path_);
}

std::vector<std::string> Ssh::command_line(const std::string& command, bool tty) const {
  std::vector<std::string> options = {
      "BatchMode=yes",  // never prompt: a password or passphrase question would hang a script
      fmt::format("ConnectTimeout={}", settings_.connect_timeout_s),
      "StrictHostKeyChecking=accept-new",
      "IdentitiesOnly=yes",  // only the fleet file's key, not whatever an agent offers
      "ControlMaster=auto",
      "ControlPath=" + control_path_,
      fmt::format("ControlPersist={}", settings_.persist_s),
      "ServerAliveInterval=15",
      "ServerAliveCountMax=4",
      "LogLevel=ERROR",  // no "Permanently added ..." chatter; errors still come through
  };
  if (!settings_.known_hosts.empty()) options.push_back("UserKnownHostsFile=" + settings_.known_hosts);
  std::vector<std::string> argv = {"ssh"};
  for (const auto& option : options) argv.insert(argv.end(), {"-o", option});
  argv.insert(argv.end(), {"-i", instance_.key, "-p", std::to_string(instance_.port), "-l", instance_.user,
                           tty ? "-t" : "-T", "--", instance_.host});
  if (!command.empty()) argv.push_back(command);
  return argv;
}

void Ssh::fail_connect(const SshDiagnosis& d, int tries) const {
  const auto& i = instance_;
  const std::string known_hosts = settings_.known_hosts.empty() ? "~/.ssh/known_hosts" : settings_.known_hosts;
  switch (d.failure) {
    case SshFailure::HostKeyChanged:
      fail(
          "{}: the host key of {}:{} has changed since it was recorded in {}. If the machine was rebuilt, remove "
          "the old key with `ssh-keygen -f {} -R {}` and try again; if not, someone may be intercepting the "
          "connection",
          i.name, i.host, i.port, known_hosts, shell_quote(known_hosts), shell_quote(known_hosts_name(i)));
    case SshFailure::HostKeyRejected:
      fail("{}: the host key of {}:{} could not be verified against {}: {}", i.name, i.host, i.port, known_hosts,
           d.line);
    case SshFailure::KeyRefused:
      fail(
          "{}: {} refused the key {}: add its public key to the remote ~/.ssh/authorized_keys (`alpha fleet "
          "sync-keys` through a key that works, or the provider's console), or fix \"key\" in the fleet file",
          i.name, i.where(), i.key);
    case SshFailure::KeyUnusable:
      fail("{}: ssh cannot use the key {} ({}): it must be a private key readable only by you (chmod 600)", i.name,
           i.key, d.line);
    case SshFailure::UnknownHost:
      fail("{}: the host name {} does not resolve ({}): fix \"host\" in the fleet file", i.name, i.host, d.line);
    case SshFailure::Unreachable:
      fail("{}: cannot reach {} after {} {}: {} (is the machine up, and \"host\" and \"port\" right?)", i.name,
           i.where(), tries, tries == 1 ? "try" : "tries", d.line);
    case SshFailure::None:
      break;
  }
  fail("{}: ssh to {} failed: {}", i.name, i.where(), d.line.empty() ? "no message" : d.line);
}

void Ssh::connect() {
  if (connected_) return;
  if (access(instance_.key.c_str(), F_OK) != 0)
    fail("{}: the key file {} does not exist (\"key\" in the fleet file)", instance_.name, instance_.key);
  ensure_private_dir(settings_.control_dir);
  for (int attempt = 1;; ++attempt) {
    // Opening the connection with a captured `true` makes this the master: later commands share it.
    auto result = run_process(command_line("true"));
    if (result.status == 0) {
      connected_ = true;
      return;
    }
    auto diagnosis = diagnose_ssh_error(result.err);
    if (result.status != 255)
      fail("{}: the remote shell at {} cannot run `true` (exit status {}): {}", instance_.name, instance_.where(),
           result.status, diagnosis.line);
    if (diagnosis.failure != SshFailure::Unreachable || attempt >= settings_.attempts) fail_connect(diagnosis, attempt);
    std::this_thread::sleep_for(std::chrono::seconds(1 << (attempt - 1)));
  }
}

ProcessResult Ssh::run(const std::string& command, const ProcessIo& io) {
  connect();
  auto result = run_process(command_line(command), io);
  if (result.status == 255 && io.capture_err) {
    auto diagnosis = diagnose_ssh_error(result.err);
    if (diagnosis.failure != SshFailure::None) fail_connect(diagnosis, 1);
  }
  return result;
}

int Ssh::interactive(const std::string& command, bool tty) {
  connect();
  ProcessIo io;
  io.in = Stdin::Inherit;
  io.out = Stdout::Inherit;
  io.capture_err = false;
  return run_process(command_line(command, tty), io).status;
}

std::string Ssh::check(const std::string& command, const std::string& what) {
  auto result = run(command);
  if (result.status != 0) {
    std::string message = result.err;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    for (char& c : message)
      if (c == '\n') c = ' ';
    fail("{}: {} failed (exit status {}){}{}", instance_.name, what, result.status, message.empty() ? "" : ": ",
         message);
  }
  return result.out;
}

void Ssh::copy(const std::string& command, const ProcessIo& io, const std::string& from, const std::string& to) {
  auto result = run(command, io);
  if (result.status != 0) fail("{}: copying {} to {} failed: {}", instance_.name, from, to, result.err);
}

void Ssh::upload(const std::string& local_path, const std::string& remote_path) {
  copy("cat > " + shell_quote(remote_path), {.in = Stdin::File, .in_path = local_path}, local_path, remote_path);
}

void Ssh::download(const std::string& remote_path, const std::string& local_path) {
  copy("cat -- " + shell_quote(remote_path), {.out = Stdout::File, .out_path = local_path}, remote_path, local_path);
}

}  // namespace alpha::fleet
