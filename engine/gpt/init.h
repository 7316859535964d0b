// Deterministic GPT-2 initialisation from a seed: weights ~ N(0, 0.02), the two residual projections
// per block (attn.c_proj, mlp.c_proj) scaled by 1/sqrt(2·n_layer), biases 0, LayerNorm weights 1.
// Same seed, same floats, on any machine (own normal generator, not std::normal_distribution).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/gpt/parameters.h"

namespace alpha::gpt {

// A small counter-based generator: splitmix64 for uniforms, Box-Muller for normals.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next_u64();
  double uniform();  // in (0, 1)
  float normal();
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

// Host copy of the whole parameter buffer (layout.total_floats floats; padding is 0).
std::vector<float> init_parameters(const GptConfig& config, const ParameterLayout& layout, uint64_t seed);

}  // namespace alpha::gpt
