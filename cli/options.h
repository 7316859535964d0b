// Options every subcommand shares (set on the top-level app, accepted before or after the command).
#pragma once

#include <optional>

#include "engine/vk/context.h"

namespace alpha::cli {

struct GlobalOptions {
  std::optional<int> device;  // --device N; else ALPHA_DEVICE; else the best device
  bool validation = false;    // --validate: Khronos validation layer on
};

GlobalOptions& global_options();

// Context options from the global flags.
vk::ContextOptions context_options();

}  // namespace alpha::cli
