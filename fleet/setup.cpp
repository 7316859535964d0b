// Remote runtime setup (see setup.h).
#include "fleet/setup.h"

#include <fmt/format.h>

#include "common/error.h"
#include "fleet/deploy.h"
#include "fleet/remote_dir.h"

namespace alpha::fleet {

std::string setup_script() {
  return "set -e\n"
         "if [ \"$(id -u)\" -eq 0 ]; then sudo=''\n"
         "elif command -v sudo >/dev/null 2>&1; then sudo='sudo -n'\n"
         "else echo 'not root and no sudo: install libvulkan1, mesa-vulkan-drivers and vulkan-tools by hand' >&2; "
         "exit 1; fi\n"
         "if command -v apt-get >/dev/null 2>&1; then\n"
         "  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq\n"
         "  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
         "libvulkan1 mesa-vulkan-drivers vulkan-tools\n"
         "elif command -v dnf >/dev/null 2>&1; then\n"
         "  $sudo dnf install -y -q vulkan-loader mesa-vulkan-drivers vulkan-tools\n"
         "else\n"
         "  echo 'neither apt-get nor dnf found: install the Vulkan loader and a Vulkan driver by hand' >&2; exit 1\n"
         "fi\n";
}

void setup(Ssh& ssh, bool dry_run) {
  const auto& instance = ssh.instance();
  if (dry_run) {
    fmt::print("{} ({}): would run\n{}then deploy alpha to {} and run `./alpha devices` there\n", instance.name,
               instance.where(), setup_script(), remote_path(instance, "alpha"));
    return;
  }
  fmt::print("{}: installing the Vulkan loader and drivers\n", instance.name);
  if (int status = ssh.interactive(setup_script(), false); status != 0)
    fail(
        "{}: installing the runtime packages failed (exit status {}); see the output above (sudo -n needs a "
        "password-less sudo)",
        instance.name, status);
  deploy(ssh);
  if (int status = ssh.interactive(enter_deploy_dir(instance) + " && ./alpha devices", false); status != 0)
    fail("{}: `alpha devices` failed there (exit status {})", instance.name, status);
}

}  // namespace alpha::fleet
