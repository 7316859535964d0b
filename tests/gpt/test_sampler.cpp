// Sampling and generation: greedy picks, top-k / top-p cuts and temperature against the exact
// softmax (by drawing many tokens), determinism from the seed, bad options; and greedy generation
// through the KV cache (including a context that fills up and slides) against the full forward pass.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "engine/gpt/generate.h"
#include "engine/gpt/init.h"
#include "engine/gpt/model.h"
#include "engine/gpt/sampler.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

using gpt::SamplingOptions;

static const std::vector<float> kLogits = {0.5f, 2.0f, -1.0f, 1.0f, 0.0f, 1.0f};

static std::vector<double> frequencies(const SamplingOptions& options, int draws, uint64_t seed) {
  gpt::Rng rng(seed);
  std::vector<double> counts(kLogits.size());
  for (int i = 0; i < draws; ++i) counts[gpt::sample_token(kLogits, options, rng)] += 1.0 / draws;
  return counts;
}

// softmax(logits / temperature) over `allowed` tokens, 0 elsewhere.
static std::vector<double> softmax(float temperature, const std::vector<int>& allowed) {
  std::vector<double> p(kLogits.size());
  double sum = 0;
  for (int i : allowed) sum += p[i] = std::exp(kLogits[i] / temperature);
  for (auto& x : p) x /= sum;
  return p;
}

static void check_frequencies(const SamplingOptions& options, const std::vector<double>& want) {
  const auto got = frequencies(options, 40000, 3);
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(fmt::format("token {}: drawn {:.4f}, softmax {:.4f} (T={} k={} p={})", i, got[i], want[i],
                     options.temperature, options.top_k, options.top_p));
    if (want[i] == 0)
      CHECK(got[i] == 0);
    else
      CHECK(std::abs(got[i] - want[i]) < 0.012);  // ~5 standard errors at 40000 draws
  }
}

TEST_CASE("greedy, top-k = 1 and a tiny top-p all pick the most likely token") {
  gpt::Rng rng(1);
  CHECK(gpt::sample_token(kLogits, {0.0f, 0, 1.0f}, rng) == 1);
  CHECK(gpt::sample_token(kLogits, {5.0f, 1, 1.0f}, rng) == 1);
  CHECK(gpt::sample_token(kLogits, {5.0f, 0, 1e-6f}, rng) == 1);
  const std::vector<float> tie = {1.0f, 3.0f, 3.0f};
  CHECK(gpt::sample_token(tie, {0.0f, 0, 1.0f}, rng) == 1);  // ties go to the lower id
}

TEST_CASE("drawn tokens follow the temperature softmax, cut to top-k and top-p") {
  const std::vector<int> all = {0, 1, 2, 3, 4, 5};
  check_frequencies({1.0f, 0, 1.0f}, softmax(1.0f, all));
  check_frequencies({0.5f, 0, 1.0f}, softmax(0.5f, all));
  check_frequencies({2.0f, 0, 1.0f}, softmax(2.0f, all));
  // top-k = 3: tokens 1, 3 and 5 (3 and 5 tie at 1.0; both in since k = 3)
  check_frequencies({1.0f, 3, 1.0f}, softmax(1.0f, {1, 3, 5}));
  // top-p = 0.7 at T = 1: p(1) = 0.47, then 3 and 5 at 0.17 each: 1, 3 reach 0.64, 1, 3, 5 reach 0.81
  const auto p = softmax(1.0f, all);
  REQUIRE(p[1] + p[3] < 0.7);
  REQUIRE(p[1] + p[3] + p[5] >= 0.7);
  check_frequencies({1.0f, 0, 0.7f}, softmax(1.0f, {1, 3, 5}));
}

TEST_CASE("the same seed draws the same tokens; bad options are refused") {
  CHECK(frequencies({1.0f, 0, 1.0f}, 500, 9) == frequencies({1.0f, 0, 1.0f}, 500, 9));
  CHECK(frequencies({1.0f, 0, 1.0f}, 500, 9) != frequencies({1.0f, 0, 1.0f}, 500, 10));
  CHECK_THROWS_WITH_AS(SamplingOptions({-1.0f, 0, 1.0f}).validate(), doctest::Contains("--temperature"), Error);
  CHECK_THROWS_WITH_AS(SamplingOptions({1.0f, -2, 1.0f}).validate(), doctest::Contains("--top-k"), Error);
  CHECK_THROWS_WITH_AS(SamplingOptions({1.0f, 0, 0.0f}).validate(), doctest::Contains("--top-p"), Error);
  CHECK_THROWS_WITH_AS(SamplingOptions({1.0f, 0, 1.5f}).validate(), doctest::Contains("--top-p"), Error);
}

TEST_CASE_FIXTURE(GpuFixture, "greedy generation with the KV cache equals greedy decoding by full forward passes") {
  gpt::GptConfig config;
  config.n_layer = 2, config.n_head = 2, config.n_embd = 32, config.seq_len = 16, config.vocab_size = 53;
  // GPT-2 init plus large noise: an untrained model with small weights repeats one token.
  const gpt::ParameterLayout layout(config);
  auto params = gpt::init_parameters(config, layout, 21);
  gpt::Rng rng(22);
  for (auto& x : params) x += 0.3f * rng.normal();
  gpt::GptModel model(gpu(), config, 1, config.seq_len);
  model.set_parameters(params);
  // The reference: the most likely token after `window` (at most seq_len tokens, from position 0).
  auto next_by_full_pass = [&](std::span<const int32_t> window) {
    std::vector<int32_t> tokens(config.seq_len, 0);
    std::copy(window.begin(), window.end(), tokens.begin());
    model.set_batch(tokens, std::vector<int32_t>(config.seq_len, -1));
    vk::CommandStream stream(gpu());
    model.forward(stream, false);
    stream.submit();
    const auto logits = model.read_logits();
    const auto row = logits.begin() + (window.size() - 1) * config.vocab_size;
    return static_cast<int32_t>(std::max_element(row, row + config.vocab_size) - row);
  };

  gpt::GptDecoder decoder(gpu(), config, 4);
  decoder.set_parameters(params);
  const std::vector<int32_t> prompt = {3, 14, 15, 9, 26, 5};
  gpt::GenerateOptions options;
  options.max_tokens = 30;  // fills the 16-token context twice over: it slides to its newest 8 tokens
  options.sampling.temperature = 0;
  std::vector<int32_t> history = prompt, generated;
  const auto stats = gpt::generate(decoder, prompt, options, [&](int32_t t) {
    generated.push_back(t);
    return true;
  });
  CHECK(stats.new_tokens == 30);
  REQUIRE(generated.size() == 30);
  // Replay the same windows: the whole history until the context is full, then its newest 8 tokens.
  int position = static_cast<int>(prompt.size()), mismatches = 0;
  std::span<const int32_t> window;
  for (size_t i = 0; i < generated.size(); ++i) {
    if (position > config.seq_len) position = config.seq_len / 2;
    window = std::span(history).last(position);
    mismatches += next_by_full_pass(window) != generated[i];
    history.push_back(generated[i]);
    ++position;
  }
  CHECK(mismatches == 0);
  CHECK(std::set<int32_t>(generated.begin(), generated.end()).size() > 1);  // not a constant stream
}

}  // namespace alpha::test
