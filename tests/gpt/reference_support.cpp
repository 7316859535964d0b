// Helpers of the PyTorch reference tests (see reference_support.h).
#include "tests/gpt/reference_support.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>

namespace alpha::test {

std::vector<float> reference_parameters(const gpt::GptConfig& config,
                                        const gpt::ParameterLayout& layout, uint64_t seed,
                                        gpt::Rng& rng) {
  auto params = gpt::init_parameters(config, layout, seed);
  for (const auto& p : layout.params) {
    if (p.shape.size() != 1) continue;
    const bool norm_weight = p.name.find("ln_") != std::string::npos && p.name.ends_with(".weight");
    for (int64_t i = 0; i < p.numel; ++i)
      params[p.offset + i] = (norm_weight ? 1.0f : 0.0f) + 0.1f * rng.normal();
  }
  return params;
}

TensorFile run_reference_script(const std::string& script, const std::string& args,
                                const TensorFile& input) {
  static std::atomic<int> calls{0};
  const auto dir = std::filesystem::temp_directory_path();
  const int call = calls++;
  const std::string in_path =
      (dir / fmt::format("alpha-ref-in-{}-{}.bin", getpid(), call)).string();
  const std::string out_path =
      (dir / fmt::format("alpha-ref-out-{}-{}.bin", getpid(), call)).string();
  write_tensor_file(in_path, input);
  // ALPHA_SOURCE_DIR at run time: the binaries were built elsewhere (scripts/gpu-check)
  const char* source_env = std::getenv("ALPHA_SOURCE_DIR");
  const std::string source = source_env && *source_env ? source_env : ALPHA_SOURCE_DIR;
  const std::string command = fmt::format("/usr/bin/python3 {}/tests/reference/{} {} {} {}", source,
                                          script, args, in_path, out_path);
  const int status = std::system(command.c_str());
  std::filesystem::remove(in_path);
  REQUIRE_MESSAGE(status == 0, "the PyTorch reference failed: " << command);
  TensorFile output = read_tensor_file(out_path);
  std::filesystem::remove(out_path);
  return output;
}

double compare_relative(const std::string& name, const float* got, const float* want, int64_t n,
                        double tolerance) {
  double scale = 1e-30, worst = 0;
  int64_t worst_index = 0;
  for (int64_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(double(want[i])));
  for (int64_t i = 0; i < n; ++i) {
    double err = std::abs(double(got[i]) - want[i]) / scale;
    if (std::isnan(err)) err = 1e30;
    if (err > worst) worst = err, worst_index = i;
  }
  INFO(fmt::format(
      "{}: worst relative error {:.2e} at {} (alpha {} torch {}, scale {:.3e}), tolerance {:.0e}",
      name, worst, worst_index, got[worst_index], want[worst_index], scale, tolerance));
  CHECK(worst <= tolerance);
  return worst;
}

}  // namespace alpha::test
