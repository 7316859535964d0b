// Remote paths and shell snippets for the deployDir (see remote_dir.h).
#include "fleet/remote_dir.h"

#include <fmt/format.h>

#include "common/error.h"
#include "fleet/shell_quote.h"

namespace alpha::fleet {

const char* const kAlphaRunningFunction =
    "alpha_running() { "
    "pid=$(cat \"$1\" 2>/dev/null) && [ -n \"$pid\" ] && [ \"$(cat /proc/\"$pid\"/comm 2>/dev/null)\" = alpha ]; "
    "}";

std::string remote_path(const Instance& instance, const std::string& relative) {
  std::string dir = instance.deploy_dir;
  if (dir.starts_with("-")) dir = "./" + dir;  // never read as an option
  if (relative.empty()) return dir;
  return dir == "." ? relative : dir + "/" + relative;
}

std::string enter_deploy_dir(const Instance& instance, bool create) {
  const std::string dir = shell_quote(remote_path(instance));
  if (create) return fmt::format("mkdir -p -- {0} && cd -- {0}", dir);
  const std::string message =
      fmt::format("{} does not exist: run `alpha fleet deploy {}` first", remote_path(instance), instance.name);
  return fmt::format("{{ cd -- {} 2>/dev/null || {{ echo {} >&2; exit 3; }}; }}", dir, shell_quote(message));
}

std::string run_dir(const std::string& run) {
  if (!is_plain_name(run)) fail("run name \"{}\" may hold only letters, digits, '.', '_' and '-'", run);
  return "runs/" + run;
}

}  // namespace alpha::fleet
