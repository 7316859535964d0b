// GPT-2 initialisation (see init.h).
#include "engine/gpt/init.h"

#include <cmath>
#include <numbers>

namespace alpha::gpt {

uint64_t Rng::next_u64() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double Rng::uniform() { return (static_cast<double>(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

float Rng::normal() {
  // one normal per call (the second Box-Muller value is dropped: simpler state, same distribution)
  double u1 = uniform(), u2 = uniform();
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
}

std::vector<float> init_parameters(const GptConfig& config, const ParameterLayout& layout, uint64_t seed) {
  std::vector<float> values(layout.total_floats, 0.0f);
  Rng rng(seed);
  const float residual_std = 0.02f / std::sqrt(2.0f * config.n_layer);
  for (const auto& p : layout.params) {
    float* dst = values.data() + p.offset;
    const bool is_bias = p.name.ends_with(".bias");
    const bool is_norm = p.name.find("ln_") != std::string::npos;
    if (is_bias) continue;  // zeros
    if (is_norm) {
      for (int64_t i = 0; i < p.numel; ++i) dst[i] = 1.0f;
      continue;
    }
    const bool residual = p.name.ends_with("attn.c_proj.weight") || p.name.ends_with("mlp.c_proj.weight");
    const float std = residual ? residual_std : 0.02f;
    for (int64_t i = 0; i < p.numel; ++i) dst[i] = std * rng.normal();
  }
  return values;
}

}  // namespace alpha::gpt
