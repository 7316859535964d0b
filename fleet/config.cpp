// fleet.json parsing and validation (see config.h). The rules here are what keep hostile or mistyped
// values from ever reaching a command line: names are plain, hosts and users cannot pass as options.
#include "fleet/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace alpha::fleet {

using json = nlohmann::ordered_json;  // keeps "train" flags in file order

namespace {

constexpr std::string_view kFields[] = {"name", "host", "port", "user", "key", "deployDir", "gpu", "train"};
constexpr const char* kFieldList =  // the same, for messages
    "name, host, port, user, key, deployDir, gpu, train";

bool all_of_chars(const std::string& s, const char* extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && std::strchr(extra, c));
  });
}

bool has_control_char(const std::string& s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::string expand_key_path(const std::string& key, const std::filesystem::path& base_dir) {
  const char* home = std::getenv("HOME");
  if ((key == "~" || key.starts_with("~/")) && home) return std::string(home) + key.substr(1);
  const std::filesystem::path path(key);
  return path.is_absolute() ? key : (base_dir / path).lexically_normal().string();
}

// One instance object; `where` is e.g. `fleet.json: instances[2] ("gpu-b")` for messages.
class InstanceReader {
 public:
  InstanceReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  [[noreturn]] void bad(const std::string& field, const std::string& problem) const {
    fail("{}: \"{}\" {}", where_, field, problem);
  }

  std::string string(const std::string& field, bool required) const {
    if (!object_.contains(field)) {
      if (required) bad(field, "is missing");
      return "";
    }
    const json& value = object_.at(field);
    if (!value.is_string()) bad(field, fmt::format("must be a string, not {}", value.dump()));
    auto text = value.get<std::string>();
    if (required && text.empty()) bad(field, "must not be empty");
    if (has_control_char(text)) bad(field, "must not contain control characters (newlines, tabs, NUL)");
    return text;
  }

  int port() const {
    if (!object_.contains("port")) return 22;
    const json& value = object_.at("port");
    if (!value.is_number_integer() || value.get<int64_t>() < 1 || value.get<int64_t>() > 65535)
      bad("port", fmt::format("must be an integer from 1 to 65535, not {}", value.dump()));
    return value.get<int>();
  }

  std::vector<std::pair<std::string, std::string>> train_flags() const {
    std::vector<std::pair<std::string, std::string>> flags;
    if (!object_.contains("train")) return flags;
    const json& train = object_.at("train");
    if (!train.is_object())
      bad("train",
          fmt::format("must be an object of `alpha train` flags, e.g. {{\"model\": \"d12\"}}, not {}", train.dump()));
    for (const auto& [name, value] : train.items()) {
      const std::string field = "train." + name;
      if (name.empty() || name[0] == '-' || !all_of_chars(name, "-"))
        bad(field, "is not a flag name (letters, digits and '-', without the leading --)");
      if (is_fleet_train_flag(name)) bad(field, "is set by alpha fleet itself (use --run on `alpha fleet train`)");
      if (value.is_string()) {
        if (has_control_char(value.get<std::string>())) bad(field, "must not contain control characters");
        flags.emplace_back(name, value.get<std::string>());
      } else if (value.is_number()) {
        flags.emplace_back(name, value.dump());
      } else if (value.is_boolean()) {
        if (value.get<bool>()) flags.emplace_back(name, "");
      } else {
        bad(field, fmt::format("must be a string, number or true/false, not {}", value.dump()));
      }
    }
    return flags;
  }

  void reject_unknown_fields() const {
    for (const auto& [field, value] : object_.items())
      if (std::find(std::begin(kFields), std::end(kFields), field) == std::end(kFields))
        bad(field, fmt::format("is not a known field (known: {})", kFieldList));
  }

 private:
  const json& object_;
  std::string where_;
};

Instance read_instance(const json& object, const std::string& where, const std::filesystem::path& base_dir) {
  if (!object.is_object()) fail("{}: must be an object with the fields {}, not {}", where, kFieldList, object.dump());
  InstanceReader reader(object, where);
  reader.reject_unknown_fields();
  Instance instance;
  instance.name = reader.string("name", true);
  if (!is_plain_name(instance.name))
    reader.bad("name", fmt::format("{} may hold only letters, digits, '.', '_' and '-' (at most 64)",
                                   json(instance.name).dump()));
  const std::string named = fmt::format("{} (\"{}\")", where, instance.name);
  InstanceReader checked(object, named);
  instance.host = checked.string("host", true);
  if (instance.host[0] == '-' || !all_of_chars(instance.host, ".:_-"))
    checked.bad("host", fmt::format("{} is not a host name or IP address", json(instance.host).dump()));
  instance.port = checked.port();
  instance.user = checked.string("user", true);
  if (instance.user[0] == '-' || !all_of_chars(instance.user, "._-"))
    checked.bad("user",
                fmt::format("{} is not a user name (letters, digits, '.', '_', '-')", json(instance.user).dump()));
  instance.key = expand_key_path(checked.string("key", true), base_dir);
  instance.deploy_dir = checked.string("deployDir", true);
  if (instance.deploy_dir == "~") instance.deploy_dir = ".";
  if (instance.deploy_dir.starts_with("~/")) instance.deploy_dir = instance.deploy_dir.substr(2);
  if (instance.deploy_dir.starts_with("~"))
    checked.bad("deployDir", "may start with ~/ (the remote home) but not ~user");
  if (instance.deploy_dir.empty()) instance.deploy_dir = ".";
  instance.gpu = checked.string("gpu", false);
  instance.train_flags = checked.train_flags();
  return instance;
}

}  // namespace

std::string Instance::where() const {
  return fmt::format("{}@{}:{}", user, host, port);
}

bool is_fleet_train_flag(std::string_view name) {
  return name == "run" || name == "runs-dir" || name == "resume" || name == "cache-dir";
}

bool is_plain_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && name != "." && name != ".." && all_of_chars(name, "._-");
}

const Instance& Fleet::find(const std::string& name) const {
  for (const auto& instance : instances)
    if (instance.name == name) return instance;
  std::string known;
  for (const auto& instance : instances) known += (known.empty() ? "" : ", ") + instance.name;
  fail("no instance named {} in {} (known: {})", json(name).dump(), path.string(), known);
}

std::filesystem::path fleet_path(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("ALPHA_FLEET"); env && *env) return env;
  return "fleet.json";
}

Fleet parse_fleet(const std::string& text, const std::string& origin, const std::filesystem::path& base_dir) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string message = e.what();
    if (auto at = message.find("] "); at != std::string::npos) message = message.substr(at + 2);
    fail("{} is not valid JSON: {}", origin, message);
  }
  if (!root.is_object() || !root.contains("instances"))
    fail("{}: expected an object {{\"instances\": [...]}} (see fleet.json.example)", origin);
  for (const auto& [field, value] : root.items())
    if (field != "instances") fail("{}: \"{}\" is not a known top-level field (known: instances)", origin, field);
  const json& list = root.at("instances");
  if (!list.is_array() || list.empty()) fail("{}: \"instances\" must be a non-empty array of instances", origin);
  Fleet fleet;
  fleet.path = origin;
  for (size_t i = 0; i < list.size(); ++i) {
    Instance instance = read_instance(list[i], fmt::format("{}: instances[{}]", origin, i), base_dir);
    for (size_t j = 0; j < fleet.instances.size(); ++j)
      if (fleet.instances[j].name == instance.name)
        fail("{}: instances[{}] \"name\": \"{}\" is already the name of instances[{}]", origin, i, instance.name, j);
    fleet.instances.push_back(std::move(instance));
  }
  return fleet;
}

Fleet load_fleet(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    fail(
        "no fleet file at {}: copy fleet.json.example to fleet.json and describe your machines, or point "
        "--fleet (or ALPHA_FLEET) at one",
        path.string());
  std::stringstream text;
  text << in.rdbuf();
  const auto base_dir = std::filesystem::absolute(path).parent_path();
  return parse_fleet(text.str(), path.string(), base_dir);
}

}  // namespace alpha::fleet
