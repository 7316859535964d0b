// Runs perf/torch_baseline.py on a spec of the bench's work and parses its answer (see
// torch_peer.h).
#include "perf/torch_peer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "perf/history.h"

namespace alpha::perf {

using nlohmann::json;

std::string torch_script_path() {
  if (const char* path = std::getenv("ALPHA_TORCH_SCRIPT"); path && *path) return path;
  return std::string(ALPHA_SOURCE_DIR) + "/perf/torch_baseline.py";
}

// The model as torch_baseline.py builds it: sizes, and the architecture flags of
// tests/reference/gpt_reference.py's Arch unless it is GPT-2.
static json model_json(const gpt::GptConfig& c) {
  json model = {{"n_layer", c.n_layer},
                {"n_head", c.n_head},
                {"n_embd", c.n_embd},
                {"seq_len", c.seq_len},
                {"vocab", c.vocab_size}};
  if (!c.is_gpt2()) {
    // mlp as the reference codes it: 0 gelu, 1 relu2, 2 swiglu
    static_assert(int(gpt::Mlp::relu2) == 1 && int(gpt::Mlp::swiglu) == 2);
    model["arch"] = {c.pos == gpt::Positions::rope,
                     c.norm == gpt::Norm::rmsnorm,
                     c.norm_params,
                     int(c.mlp),
                     c.qk_norm,
                     c.tie_embeddings,
                     c.kv_heads()};
    model["arch_f32"] = {c.logit_softcap, c.rope_theta};
  }
  return model;
}

static json spec_of(const TorchWork& work) {
  json spec = {{"iters", work.iters}, {"warmup", work.warmup}, {"budget_ms", work.budget_ms}};
  if (work.copy_floats > 0)
    spec["ceilings"] = {{"copy_floats", work.copy_floats}, {"matmul_sizes", work.matmul_sizes}};
  spec["matmul"] = json::array();
  for (const auto& m : work.matmuls)
    spec["matmul"].push_back(
        {{"M", m.M}, {"N", m.N}, {"K", m.K}, {"layout", layout_name(m.layout)}});
  spec["kernels"] = json::array();
  for (const auto& k : work.kernels) {
    json dims = json::object();
    for (const auto& [name, value] : k.dims) dims[name] = value;
    spec["kernels"].push_back({{"op", kernel_op_name(k.op)}, {"dims", dims}});
  }
  spec["train"] = json::array();
  for (const auto& t : work.train) {
    json train = model_json(t.config);
    train["batch"] = t.batch;
    train["seq"] = t.seq;
    spec["train"].push_back(train);
  }
  spec["infer"] = json::array();
  for (const auto& i : work.infer) {
    json infer = model_json(i.config);
    infer["prompt"] = i.prompt;
    infer["steps"] = i.steps;
    spec["infer"].push_back(infer);
  }
  return spec;
}

static TorchTiming timing_of(const json& j) {
  return {j.at("median_ms"), j.at("min_ms"), j.at("max_ms"), j.at("variant")};
}

static TorchResults results_of(const json& j, const TorchWork& work) {
  TorchResults r;
  r.version = j.at("torch");
  r.device = j.at("device");
  r.notes = j.at("notes").get<std::vector<std::string>>();
  if (j.contains("ceilings")) {
    r.copy_gbps = j["ceilings"].at("copy_gbps");
    r.matmul_gflops = j["ceilings"].at("matmul_gflops");
  }
  for (const auto& m : j.at("matmul")) r.matmuls.push_back(timing_of(m));
  for (const auto& k : j.at("kernels")) r.kernels.push_back(timing_of(k));
  for (const auto& t : j.at("train")) {
    TorchTrainStep step{t.at("ms_per_step"), t.at("tokens_per_s"), t.at("variant")};
    for (const auto& [variant, ms] : t.at("variants").items())
      step.variants.emplace_back(variant, ms.get<double>());
    r.train.push_back(step);
  }
  for (const auto& i : j.at("infer"))
    r.infer.push_back({timing_of(i.at("prefill")), timing_of(i.at("decode")),
                       i["prefill"].at("tokens_per_s"), i["decode"].at("tokens_per_s")});
  if (r.matmuls.size() != work.matmuls.size() || r.kernels.size() != work.kernels.size() ||
      r.train.size() != work.train.size() || r.infer.size() != work.infer.size())
    throw std::runtime_error("the answer does not have one entry per item of the spec");
  return r;
}

std::optional<TorchResults> run_torch_peer(const TorchWork& work) {
  const char* python_env = std::getenv("ALPHA_TORCH_PYTHON");
  const std::string python = python_env && *python_env ? python_env : "/usr/bin/python3";
  const std::string script = torch_script_path();
  if (!std::filesystem::exists(script)) {
    fmt::print(stderr, "torch peer skipped: {} not found (set ALPHA_TORCH_SCRIPT)\n", script);
    return std::nullopt;
  }
  const std::string spec_path =
      (std::filesystem::temp_directory_path() / fmt::format("alpha-torch-spec.{}.json", getpid()))
          .string();
  write_file_atomically(spec_path, spec_of(work).dump());
  const std::string command = fmt::format("'{}' '{}' '{}' 2>&1", python, script, spec_path);
  std::string output;
  int status = -1;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
    status = pclose(pipe);
  }
  std::filesystem::remove(spec_path);
  const auto line_start = output.rfind("\n{\"torch\"");
  const size_t start = output.starts_with("{\"torch\"")  ? 0
                       : line_start == std::string::npos ? line_start
                                                         : line_start + 1;
  if (status != 0 || start == std::string::npos) {
    fmt::print(stderr, "torch peer failed (exit status {}): {}\n  {}\n", status, command,
               output.size() > 600 ? "..." + output.substr(output.size() - 600) : output);
    return std::nullopt;
  }
  try {
    return results_of(json::parse(output.substr(start)), work);
  } catch (const std::exception& e) {
    fmt::print(stderr, "torch peer: cannot read the answer of {}: {}\n", script, e.what());
    return std::nullopt;
  }
}

}  // namespace alpha::perf
