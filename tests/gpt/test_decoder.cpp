// KV-cache decoding against the full-context forward pass: after any mix of prefill chunks and
// one-token steps, the decoder's logits for the last token equal the training model's logits at
// that position (in practice bit for bit; the bound allows matmul paths to differ by row count). Odd sizes (C = 48, 3 heads, V = 101, T = 37), every parameter random and non-zero.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "engine/gpt/decoder.h"
#include "engine/gpt/init.h"
#include "engine/gpt/model.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

using gpt::GptConfig;

static GptConfig odd_config() {
  GptConfig c;
  c.n_layer = 2, c.n_head = 3, c.n_embd = 48, c.seq_len = 37, c.vocab_size = 101;
  return c;
}

// GPT-2 init plus noise on everything, so biases and LayerNorm parameters matter too.
static std::vector<float> random_parameters(const GptConfig& config) {
  const gpt::ParameterLayout layout(config);
  auto params = gpt::init_parameters(config, layout, 5);
  gpt::Rng rng(6);
  for (const auto& p : layout.params)
    for (int64_t i = 0; i < p.numel; ++i) params[p.offset + i] += 0.05f * rng.normal();
  return params;
}

static std::vector<int32_t> random_tokens(int n, int vocab, uint64_t seed) {
  gpt::Rng rng(seed);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % vocab);
  return tokens;
}

// The worst |a - b| / (1e-4 + 1e-4 |b|) over a row of logits: <= 1 passes.
static double worst_excess(std::span<const float> got, std::span<const float> want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double excess = std::abs(double(got[i]) - want[i]) / (1e-4 + 1e-4 * std::abs(want[i]));
    if (!(excess <= worst)) worst = excess;
  }
  return worst;
}

TEST_CASE_FIXTURE(GpuFixture, "KV-cache decoding gives the full forward pass's logits at every position") {
  const GptConfig config = odd_config();
  const int T = config.seq_len, V = config.vocab_size;
  const auto params = random_parameters(config);
  const auto tokens = random_tokens(T, V, 9);

  gpt::GptModel model(gpu(), config, 1, T);
  model.set_parameters(params);
  model.set_batch(tokens, std::vector<int32_t>(T, -1));
  {
    vk::CommandStream stream(gpu());
    model.forward(stream, false);
    stream.submit();
  }
  const auto full = model.read_logits();  // (1, T, V)
  auto want = [&](int position) { return std::span<const float>(full).subspan(size_t(position) * V, V); };

  // A 10-token prompt in chunks of 4 (4 + 4 + 2), then one token at a time to the end of the context.
  gpt::GptDecoder decoder(gpu(), config, 4);
  decoder.set_parameters(params);
  const int prompt = 10;
  auto logits = decoder.append(std::span(tokens).first(prompt));
  CHECK(decoder.position() == prompt);
  double worst = worst_excess(logits, want(prompt - 1));
  int worst_at = prompt - 1;
  for (int t = prompt; t < T; ++t) {
    logits = decoder.append(std::span(tokens).subspan(t, 1));
    const double excess = worst_excess(logits, want(t));
    if (!(excess <= worst)) worst = excess, worst_at = t;
  }
  INFO(fmt::format("worst position {}: {:.3g} of the allowed error", worst_at, worst));
  CHECK(worst <= 1.0);
  CHECK(decoder.position() == T);

  // The context is full: one more token is refused; after reset the cache starts over.
  const int32_t one = 1;
  CHECK_THROWS_WITH_AS(decoder.append(std::span(&one, 1)), doctest::Contains("do not fit the context"),
                       alpha::Error);
  decoder.reset();
  logits = decoder.append(std::span(tokens).first(1));
  CHECK(worst_excess(logits, want(0)) <= 1.0);
  const int32_t outside = V;
  CHECK_THROWS_WITH_AS(decoder.append(std::span(&outside, 1)), doctest::Contains("outside the vocabulary"),
                       alpha::Error);
}

}  // namespace alpha::test
