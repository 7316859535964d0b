// Config files for subcommands (see config_file.h).
#include "cli/config_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "common/error.h"

namespace alpha::cli {

namespace {

// A JSON scalar as the text a flag would take.
std::string flag_text(const nlohmann::json& value, const std::string& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number() || value.is_boolean()) return value.dump();
  fail("{}: expected a string, number or true/false", where);
}

}  // namespace

void apply_config_file(CLI::App& command, const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) fail("cannot read config file {}", path.string());
  nlohmann::json config = nlohmann::json::parse(in, nullptr, false);
  if (config.is_discarded() || !config.is_object())
    fail("config file {} is not a JSON object of options (e.g. {{\"steps\": 500, \"model\": \"d6\"}})", path.string());
  for (const auto& [key, value] : config.items()) {
    std::string name = key;
    std::replace(name.begin(), name.end(), '_', '-');
    if (!name.starts_with("--")) name = "--" + name;
    const std::string where = fmt::format("config file {}, \"{}\"", path.string(), key);
    CLI::Option* option = nullptr;
    try {
      option = command.get_option(name);
    } catch (const CLI::OptionNotFound&) {
      fail("{}: `alpha {}` has no option {}", where, command.get_name(), name);
    }
    if (name == "--config") fail("{}: a config file cannot name another", where);
    if (option->count() > 0) continue;  // the command line wins
    if (value.is_array()) {
      for (const auto& item : value) option->add_result(flag_text(item, where));
    } else {
      option->add_result(flag_text(value, where));
    }
    try {
      option->run_callback();
    } catch (const CLI::ParseError& e) {
      fail("{}: {}", where, e.what());
    }
  }
}

}  // namespace alpha::cli
