// alpha fleet's pure parts: shell quoting (checked by a real /bin/sh), fleet.json validation, the
// diagnosis of ssh's failures, train flag merging and sha256sum line parsing. The SSH end-to-end
// test is test_fleet.sh.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/error.h"
#include "fleet/config.h"
#include "fleet/download.h"
#include "fleet/process.h"
#include "fleet/shell_quote.h"
#include "fleet/ssh.h"
#include "fleet/status.h"
#include "fleet/training.h"

using namespace alpha::fleet;

namespace {

const std::vector<std::string> kHostile = {"plain",      "",
                                           "two words",  "it's",
                                           "\"double\"", "$(touch /tmp/alpha-fleet-pwned)",
                                           "`id`",       "a;b",
                                           "x\ny",       "--flag=value",
                                           "A=b",        "~",
                                           "*",          "back\\slash",
                                           "'",          "''",
                                           "tab\there",  "-n"};

// What /bin/sh makes of `line`: each word in brackets.
std::string words_seen_by_sh(const std::string& line) {
  auto result = run_process({"/bin/sh", "-c", "for a in " + line + "; do printf '[%s]' \"$a\"; done"});
  REQUIRE(result.status == 0);
  return result.out;
}

std::string fleet_json(const std::string& instance_fields) {
  return R"({"instances": [{"name": "gpu-1", "host": "203.0.113.7", "user": "ubuntu", "key": "id_test",
                            "deployDir": "~/alpha")" +
         instance_fields + "}]}";
}

// The message parse_fleet throws for `text`.
std::string fleet_error(const std::string& text) {
  try {
    parse_fleet(text, "fleet.json", "/base");
  } catch (const alpha::Error& e) {
    return e.what();
  }
  FAIL("no error for " << text);
  return "";
}

}  // namespace

TEST_CASE("shell_quote: every string comes back as exactly one word, unchanged") {
  for (const auto& s : kHostile) {
    if (s.find('\n') != std::string::npos) continue;  // printf's output is line-safe, but keep it readable
    CHECK(words_seen_by_sh(shell_quote(s)) == "[" + s + "]");
  }
  CHECK(shell_quote("plain-word_1.2/x:y") == "plain-word_1.2/x:y");
  CHECK(shell_quote("") == "''");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("A=b") == "'A=b'");
}

TEST_CASE("shell_join: argv survives the remote shell") {
  std::string expected;
  for (const auto& s : kHostile) expected += "[" + s + "]";
  CHECK(words_seen_by_sh(shell_join(kHostile)) == expected);
}

TEST_CASE("fleet.json: a valid file") {
  auto fleet = parse_fleet(fleet_json(R"(, "port": 2222, "gpu": "L4", "train": {"model": "d12", "batch": 8,
                                          "lr": 0.0006, "validate": true, "quiet": false})"),
                           "fleet.json", "/base");
  REQUIRE(fleet.instances.size() == 1);
  const auto& i = fleet.instances[0];
  CHECK(i.name == "gpu-1");
  CHECK(i.port == 2222);
  CHECK(i.key == "/base/id_test");  // relative to the fleet file's folder
  CHECK(i.deploy_dir == "alpha");   // ~/ is the remote home, where ssh starts
  CHECK(i.where() == "ubuntu@203.0.113.7:2222");
  using Flags = std::vector<std::pair<std::string, std::string>>;
  CHECK(i.train_flags == Flags{{"model", "d12"}, {"batch", "8"}, {"lr", "0.0006"}, {"validate", ""}});
  CHECK(parse_fleet(fleet_json(""), "f", "/b").instances[0].port == 22);
  CHECK(&fleet.find("gpu-1") == &fleet.instances[0]);
}

TEST_CASE("fleet.json: each mistake is named with its field") {
  CHECK(fleet_error("{\"instances\": [").find("fleet.json is not valid JSON: parse error at line 1") == 0);
  CHECK(fleet_error("[]").find("expected an object") != std::string::npos);
  CHECK(fleet_error("{\"instances\": []}").find("non-empty array") != std::string::npos);
  CHECK(fleet_error("{\"instances\": [{}], \"x\": 1}").find("\"x\" is not a known top-level field") !=
        std::string::npos);
  CHECK(fleet_error(R"({"instances": [{"host": "h"}]})") == "fleet.json: instances[0]: \"name\" is missing");
  CHECK(fleet_error(fleet_json(R"(, "port": "22")")) ==
        "fleet.json: instances[0] (\"gpu-1\"): \"port\" must be an integer from 1 to 65535, not \"22\"");
  CHECK(fleet_error(fleet_json(R"(, "port": 70000)")).find("\"port\" must be an integer") != std::string::npos);
  CHECK(fleet_error(fleet_json(R"(, "deploydir": "x")")).find("\"deploydir\" is not a known field") !=
        std::string::npos);
  CHECK(fleet_error(fleet_json(R"(, "train": {"run": "x"})")).find("\"train.run\" is set by alpha fleet") !=
        std::string::npos);
  CHECK(fleet_error(fleet_json(R"(, "train": {"steps": [1]})")).find("\"train.steps\" must be") != std::string::npos);
  CHECK(fleet_error(fleet_json(R"(, "train": "--steps 5")")).find("\"train\" must be an object") != std::string::npos);
  // Names, hosts and users that could be read as options or shell syntax are refused.
  const std::string hostile_name = R"({"instances": [{"name": "x; touch /tmp/pwned", "host": "h", "user": "u",
                                      "key": "k", "deployDir": "d"}]})";
  CHECK(fleet_error(hostile_name).find("instances[0]: \"name\" \"x; touch /tmp/pwned\" may hold only") !=
        std::string::npos);
  CHECK(fleet_error(R"({"instances": [{"name": "..", "host": "h"}]})").find("\"name\"") != std::string::npos);
  auto with = [](const std::string& field, const std::string& value) {
    return R"({"instances": [{"name": "n", "host": "h", "user": "u", "key": "k", "deployDir": "d", ")" + field +
           "\": " + value + "}]}";
  };
  CHECK(fleet_error(with("host", "\"-oProxyCommand=x\"")).find("\"host\"") != std::string::npos);
  CHECK(fleet_error(with("host", "\"a b\"")).find("\"host\"") != std::string::npos);
  CHECK(fleet_error(with("user", "\"-l\"")).find("\"user\"") != std::string::npos);
  CHECK(fleet_error(with("deployDir", "\"a\\nb\"")).find("\"deployDir\" must not contain control") !=
        std::string::npos);
  CHECK(fleet_error(with("deployDir", "\"~bob/x\"")).find("\"deployDir\"") != std::string::npos);
  CHECK(fleet_error(with("key", "\"\"")).find("\"key\" must not be empty") != std::string::npos);
  CHECK(fleet_error(R"({"instances": [{"name": "a", "host": "h", "user": "u", "key": "k", "deployDir": "d"},
                                       {"name": "a", "host": "h", "user": "u", "key": "k", "deployDir": "d"}]})")
            .find("instances[1] \"name\": \"a\" is already the name of instances[0]") != std::string::npos);
}

TEST_CASE("fleet: an unknown instance lists the known ones") {
  auto fleet = parse_fleet(fleet_json(""), "fleet.json", "/base");
  try {
    fleet.find("nope; rm -rf /");
    FAIL("no error");
  } catch (const alpha::Error& e) {
    CHECK(std::string(e.what()) == "no instance named \"nope; rm -rf /\" in fleet.json (known: gpu-1)");
  }
}

TEST_CASE("fleet.json.example is valid") {
  const char* root = std::getenv("ALPHA_SOURCE_ROOT");
  REQUIRE(root);
  auto fleet = load_fleet(std::string(root) + "/fleet.json.example");
  CHECK(fleet.instances.size() >= 1);
}

TEST_CASE("ssh failures: diagnosed from ssh's own words") {
  CHECK(diagnose_ssh_error("ssh: connect to host 127.0.0.1 port 1: Connection refused\n").failure ==
        SshFailure::Unreachable);
  CHECK(diagnose_ssh_error("ssh: connect to host 127.0.0.1 port 1: Connection refused\n").line ==
        "ssh: connect to host 127.0.0.1 port 1: Connection refused");
  CHECK(diagnose_ssh_error("ssh: connect to host x port 22: Connection timed out\n").failure ==
        SshFailure::Unreachable);
  CHECK(diagnose_ssh_error("kex_exchange_identification: read: Connection reset by peer\n").failure ==
        SshFailure::Unreachable);
  CHECK(diagnose_ssh_error("root@127.0.0.1: Permission denied (publickey).\n").failure == SshFailure::KeyRefused);
  CHECK(diagnose_ssh_error("@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@\n"
                           "Host key verification failed.\n")
            .failure == SshFailure::HostKeyChanged);
  CHECK(diagnose_ssh_error("Host key verification failed.\n").failure == SshFailure::HostKeyRejected);
  CHECK(diagnose_ssh_error("Load key \"k\": bad permissions\nroot@h: Permission denied (publickey).\n").failure ==
        SshFailure::KeyUnusable);
  CHECK(diagnose_ssh_error("ssh: Could not resolve hostname nope: Name or service not known\n").failure ==
        SshFailure::UnknownHost);
  CHECK(diagnose_ssh_error("some remote program's complaint\n").failure == SshFailure::None);
}

TEST_CASE("ssh command line: safe options, the host after --") {
  Instance instance;
  instance.name = "n";
  instance.host = "example.org";
  instance.port = 2222;
  instance.user = "u";
  instance.key = "/keys/my key";
  SshSettings settings;
  settings.known_hosts = "/tmp/kh";
  settings.control_dir = "/tmp/ctl";
  Ssh ssh(instance, settings);
  auto argv = ssh.command_line("echo hi");
  auto has = [&](const std::string& arg) { return std::find(argv.begin(), argv.end(), arg) != argv.end(); };
  CHECK(argv.front() == "ssh");
  CHECK(has("BatchMode=yes"));
  CHECK(has("StrictHostKeyChecking=accept-new"));
  CHECK(has("UserKnownHostsFile=/tmp/kh"));
  CHECK(has("IdentitiesOnly=yes"));
  CHECK(has("ControlMaster=auto"));
  CHECK(has("/keys/my key"));
  CHECK(has("2222"));
  REQUIRE(argv.size() >= 3);
  CHECK(argv[argv.size() - 3] == "--");
  CHECK(argv[argv.size() - 2] == "example.org");
  CHECK(argv.back() == "echo hi");
  // Another key or known_hosts file never shares a connection.
  Instance other = instance;
  other.key = "/keys/other";
  auto control = [](const std::vector<std::string>& a) {
    return *std::find_if(a.begin(), a.end(), [](const std::string& s) { return s.starts_with("ControlPath="); });
  };
  CHECK(control(argv) != control(Ssh(other, settings).command_line("")));
  settings.control_dir = "/tmp/" + std::string(90, 'x');
  CHECK_THROWS_AS(Ssh(instance, settings), alpha::Error);
}

TEST_CASE("train flags: command line over the instance's defaults") {
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"model", "d12"}, {"steps", "1000"}, {"data", "data/a.txt"}, {"validate", ""}};
  using V = std::vector<std::string>;
  CHECK(merge_train_flags(defaults, {}, {}) == V{"--model=d12", "--steps=1000", "--data=data/a.txt", "--validate"});
  CHECK(merge_train_flags(defaults, {"--steps", "50", "--model=d2"}, {}) ==
        V{"--data=data/a.txt", "--validate", "--steps", "50", "--model=d2"});
  CHECK(merge_train_flags(defaults, {}, {"data/b.txt"}) ==
        V{"--model=d12", "--steps=1000", "--validate", "--data=data/b.txt"});
  CHECK_THROWS_AS(merge_train_flags(defaults, {"--run=x"}, {}), alpha::Error);
  CHECK_THROWS_AS(merge_train_flags(defaults, {"--runs-dir", "/"}, {}), alpha::Error);
}

TEST_CASE("sha256sum lines, escaped names included") {
  const std::string hash(64, 'a');
  CHECK(parse_sha256sum_line(hash + "  ./config.json") == std::pair<std::string, std::string>{hash, "./config.json"});
  CHECK(parse_sha256sum_line("\\" + hash + "  ./a\\nb\\\\c") == std::pair<std::string, std::string>{hash, "./a\nb\\c"});
  CHECK(parse_sha256sum_line("garbage").first.empty());
}

TEST_CASE("status: the remote lines, nvidia-smi's included, make one table row") {
  const std::string sha(64, 'b');
  InstanceStatus status;
  status.name = "gpu-1";
  status.where = "u@h:22";
  parse_status("gpu=87, 10240, 23034\ngpu=[N/A], 5, 80\nsha256=" + sha +
                   "\nversion=alpha 0.1.0 (git abc)\nrun=big\n"
                   "running=yes\nmetrics={\"step\": 1200, \"loss\": 3.25, \"lr\": 0.001}\n",
               sha, status);
  CHECK(status.binary == "current");
  CHECK(status.run == "big");
  CHECK(status.running);
  CHECK(status.step == 1200);
  CHECK(status.loss == 3.25);
  CHECK(status.gpus == std::vector<std::string>{"87%, 10240/23034 MiB", "[N/A], 5, 80"});
  const auto table = format_status({status});
  CHECK(table.find("gpu-1     u@h:22  yes        current  big  running   1200  3.2500") != std::string::npos);

  InstanceStatus bare;
  parse_status("", sha, bare);  // no deployDir yet, no nvidia-smi
  CHECK(bare.binary == "missing");
  CHECK(bare.gpus.empty());
  InstanceStatus other;
  parse_status("sha256=" + std::string(64, 'c') + "\n", sha, other);
  CHECK(other.binary == "differs");
}
