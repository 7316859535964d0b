// Export and evaluation against PyTorch: the safetensors file and config.json that `alpha export`
// writes, loaded into a GPT-2 written in transformers' conventions
// (tests/reference/hf_gpt2_reference.py), give alpha's logits; and evaluate_tokens' loss and byte
// count over consecutive windows (with a partial last window and a padded last batch) match the
// same figures computed there. Also the safetensors layout itself and the Conv1D transposes,
// without a device.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "engine/gpt/hf_gpt2.h"
#include "engine/gpt/model.h"
#include "engine/gpt/safetensors.h"
#include "engine/train/evaluate.h"
#include "tests/gpt/reference_support.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

using gpt::GptConfig;

static GptConfig odd_config() {
  GptConfig config;
  config.n_layer = 2, config.n_head = 3, config.n_embd = 48, config.seq_len = 37,
  config.vocab_size = 101;
  return config;
}

TEST_CASE("safetensors: header length, padded JSON header, contiguous data, refused input") {
  const std::vector<gpt::SafetensorsTensor> tensors = {{"b", {2, 3}, {1, 2, 3, 4, 5, 6}},
                                                       {"a", {1}, {-7.5f}}};
  const std::string bytes = gpt::safetensors_bytes(tensors, {{"format", "pt"}});
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  CHECK(header_size % 8 == 0);
  REQUIRE(bytes.size() == 8 + header_size + 7 * sizeof(float));
  const auto header =
      nlohmann::json::parse(bytes.substr(8, header_size));  // trailing spaces are JSON whitespace
  CHECK(header["__metadata__"]["format"] == "pt");
  CHECK(header["b"]["dtype"] == "F32");
  CHECK(header["b"]["shape"] == nlohmann::json({2, 3}));
  CHECK(header["b"]["data_offsets"] == nlohmann::json({0, 24}));  // in the given order
  CHECK(header["a"]["data_offsets"] == nlohmann::json({24, 28}));
  float a = 0, b5 = 0;
  std::memcpy(&a, bytes.data() + 8 + header_size + 24, 4);
  std::memcpy(&b5, bytes.data() + 8 + header_size + 20, 4);
  CHECK(a == -7.5f);
  CHECK(b5 == 6.0f);

  CHECK_THROWS_AS(gpt::safetensors_bytes({{"x", {2}, {1}}}, {}), Error);  // shape vs data
  CHECK_THROWS_AS(gpt::safetensors_bytes({{"x", {1}, {1}}, {"x", {1}, {2}}}, {}),
                  Error);  // duplicate
}

TEST_CASE("Hugging Face GPT-2 tensors: GPT2Model's names, Conv1D (in, out) weights, no lm_head") {
  const auto config = odd_config();
  const gpt::ParameterLayout layout(config);
  std::vector<float> params(layout.total_floats);
  for (size_t i = 0; i < params.size(); ++i) params[i] = static_cast<float>(i);
  const auto tensors = gpt::hf_gpt2_tensors(layout, params);
  std::set<std::string> names;
  for (const auto& t : tensors) names.insert(t.name);
  std::set<std::string> want = {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"};
  for (int l = 0; l < config.n_layer; ++l)
    for (const char* n :
         {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",
          "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"})
      want.insert(fmt::format("h.{}.{}", l, n));
  CHECK(names == want);
  CHECK(tensors.size() == want.size());
  for (const auto& t : tensors) {
    const auto& p = layout.find(t.name);
    if (t.name.find(".c_") != std::string::npos && t.name.ends_with(".weight")) {
      const int64_t out = p.shape[0], in = p.shape[1];
      REQUIRE(t.shape == std::vector<int64_t>{in, out});
      for (int64_t o = 0; o < out; o += 5)
        for (int64_t i = 0; i < in; i += 3)
          REQUIRE(t.data[i * out + o] == params[p.offset + o * in + i]);
    } else {
      REQUIRE(t.shape == p.shape);
      REQUIRE(std::equal(t.data.begin(), t.data.end(), params.begin() + p.offset));
    }
  }
  CHECK_THROWS_AS(gpt::hf_gpt2_tensors(layout, std::vector<float>(10)), Error);
}

static void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  REQUIRE(out.good());
}

TEST_CASE_FIXTURE(GpuFixture,
                  "exported safetensors in PyTorch's GPT-2 give alpha's logits and eval loss") {
  auto& context = gpu();
  const auto config = odd_config();
  const int B = 4, T = config.seq_len;
  gpt::GptModel model(context, config, B, T);
  gpt::Rng rng(7);
  const auto params = reference_parameters(config, model.layout(), 4321, rng);
  model.set_parameters(params);

  // The export as `alpha export` builds it, in a folder of its own.
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("alpha-export-test-{}", getpid());
  std::filesystem::create_directories(dir);
  write_bytes(
      dir / "model.safetensors",
      gpt::safetensors_bytes(gpt::hf_gpt2_tensors(model.layout(), params), {{"format", "pt"}}));
  write_bytes(dir / "config.json", gpt::hf_gpt2_config(config, 100, 100).dump(2));

  // Logits of one batch.
  std::vector<int32_t> tokens(B * T), no_targets(B * T, -1);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  model.set_batch(tokens, no_targets);
  {
    vk::CommandStream stream(context);
    model.forward(stream, false);
    stream.submit();
  }
  const auto logits = model.read_logits();

  // Evaluation: 200 tokens are 199 predictions in 6 windows of 37 (the last one of 14); with B = 4
  // the second batch holds 2 windows and 2 of padding. Ids >= 97 stand for no text, like special
  // tokens.
  std::vector<uint32_t> stream_tokens(200);
  for (auto& t : stream_tokens) t = static_cast<uint32_t>(rng.next_u64() % config.vocab_size);
  std::vector<uint32_t> text_bytes(config.vocab_size);
  for (int id = 0; id < config.vocab_size; ++id) text_bytes[id] = id >= 97 ? 0 : 1 + id % 4;
  const auto evaluation = train::evaluate_tokens(context, model, stream_tokens, text_bytes);
  CHECK(evaluation.tokens == 199);
  CHECK(evaluation.windows == 6);

  TensorFile input;
  input["tokens"] = {{B, T}, {}, tokens};
  input["stream"] = {{200}, {}, {stream_tokens.begin(), stream_tokens.end()}};
  input["text_bytes"] = {{config.vocab_size}, {}, {text_bytes.begin(), text_bytes.end()}};
  input["eval_window"] = {{1}, {}, {T}};
  TensorFile want = run_reference_script("hf_gpt2_reference.py", dir.string(), input);
  std::filesystem::remove_all(dir);

  // fp32 through 2 blocks with different summation orders (as in test_gpt_reference): 1e-4 leaves
  // margin
  const double worst =
      compare_relative("logits", logits.data(), want["logits"].f32.data(), logits.size(), 1e-4);
  const auto& reference = want["eval"].f32;  // summed nats, predicted tokens, text bytes
  CHECK(evaluation.tokens == static_cast<int64_t>(reference[1]));
  CHECK(evaluation.bytes == static_cast<int64_t>(reference[2]));
  const float loss = static_cast<float>(evaluation.loss()), want_loss = reference[0] / reference[1];
  // a mean of 199 log-probabilities, each batch's mean re-weighted by its count: 1e-5
  compare_relative("eval loss", &loss, &want_loss, 1, 1e-5);
  MESSAGE(
      fmt::format("logits worst relative error {:.1e}; eval loss {:.6f} (torch {:.6f}), {} bytes, "
                  "{:.4f} bits/byte",
                  worst, loss, want_loss, evaluation.bytes, evaluation.bits_per_byte()));
}

}  // namespace alpha::test
