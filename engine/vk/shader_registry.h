// The SPIR-V of every shader variant, embedded at build time (shaders/meson.build lists them).
// Variants are found by name, e.g. "matmul_nt_f32"; nothing is read from disk at run time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace alpha::vk {

struct EmbeddedShader {
  std::string_view name;
  const uint32_t* words;
  size_t word_count;
};

// Generated into the build directory by shaders/embed_shaders.py.
const std::vector<EmbeddedShader>& embedded_shaders();

// Throws alpha::Error for an unknown name (a bug: the variant is missing from shaders/meson.build).
const EmbeddedShader& find_shader(std::string_view name);

}  // namespace alpha::vk
