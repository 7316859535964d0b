// Lookup of embedded shader variants by name (see shader_registry.h).
#include "engine/vk/shader_registry.h"

#include "common/error.h"

namespace alpha::vk {

const EmbeddedShader& find_shader(std::string_view name) {
  for (const auto& shader : embedded_shaders())
    if (shader.name == name) return shader;
  fail("no embedded shader variant named '{}': add it to shaders/meson.build", name);
}

}  // namespace alpha::vk
