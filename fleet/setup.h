// `alpha fleet setup`: readies an instance to run alpha: installs the Vulkan loader, Mesa's Vulkan
// drivers and vulkan-tools with the remote's package manager (apt-get or dnf; through sudo when not
// root), deploys the binary and shows `alpha devices` there. The NVIDIA driver itself is the
// machine image's business: alpha needs only libvulkan.so.1 and a driver.
#pragma once

#include <string>

#include "fleet/ssh.h"

namespace alpha::fleet {

// The shell script that installs alpha's runtime needs.
std::string setup_script();

// Runs setup_script(), deploys and shows `alpha devices`; with `dry_run`, only prints what it would run.
void setup(Ssh& ssh, bool dry_run);

}  // namespace alpha::fleet
