// What the whole-model tests against the PyTorch scripts in tests/reference share: parameters where
// every tensor matters, running a script on a tensor file, and a relative comparison that prints
// the worst element.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/gpt/init.h"
#include "engine/gpt/parameters.h"
#include "tests/gpt/tensor_file.h"

namespace alpha::test {

// GPT-2 init from `seed`, then LayerNorm weights 1 + 0.1·N(0,1) and biases 0.1·N(0,1) drawn from
// `rng`, so that no parameter is a constant a bug could hide behind.
std::vector<float> reference_parameters(const gpt::GptConfig& config,
                                        const gpt::ParameterLayout& layout, uint64_t seed,
                                        gpt::Rng& rng);

// Runs `/usr/bin/python3 tests/reference/<script> <args> INPUT OUTPUT` on `input` and returns
// OUTPUT's tensors; a failing script fails the test case.
TensorFile run_reference_script(const std::string& script, const std::string& args,
                                const TensorFile& input);

// Worst |got - want| relative to the largest |want| of the tensor; CHECKs it against `tolerance`
// and prints the worst element when it fails.
double compare_relative(const std::string& name, const float* got, const float* want, int64_t n,
                        double tolerance);

}  // namespace alpha::test
