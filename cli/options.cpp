// Shared CLI options (see options.h).
#include "cli/options.h"

namespace alpha::cli {

GlobalOptions& global_options() {
  static GlobalOptions options;
  return options;
}

vk::ContextOptions context_options() {
  vk::ContextOptions options;
  options.device_index = global_options().device;
  options.validation = global_options().validation;
  return options;
}

}  // namespace alpha::cli
