// KV-cache decoding against the full-context forward pass: after any mix of prefill chunks and
// one-token steps, the decoder's logits for the last token equal the training model's logits at
// that position (in practice bit for bit; the bound allows matmul paths to differ by row count),
// and the greedy token is the same. Odd sizes (C = 48, 3 heads, V = 101, T = 37), every parameter
// random and non-zero, for GPT-2's architecture, the modern one (also with SwiGLU) and another mix
// of the options (the decode path's rotary positions are offset by the cache length).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
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

static int argmax(std::span<const float> row) {
  return static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin());
}

static void check_decoder_matches_forward(const GptConfig& config) {
  CAPTURE(config.describe());
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
  int worst_at = prompt - 1, greedy_differs = argmax(logits) != argmax(want(prompt - 1));
  for (int t = prompt; t < T; ++t) {
    logits = decoder.append(std::span(tokens).subspan(t, 1));
    const double excess = worst_excess(logits, want(t));
    if (!(excess <= worst)) worst = excess, worst_at = t;
    greedy_differs += argmax(logits) != argmax(want(t));
  }
  INFO(fmt::format("worst position {}: {:.3g} of the allowed error", worst_at, worst));
  CHECK(worst <= 1.0);
  CHECK(greedy_differs == 0);
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

TEST_CASE_FIXTURE(GpuFixture, "KV-cache decoding gives the full forward pass's logits at every position") {
  check_decoder_matches_forward(odd_config());
}

// 4 heads, so the preset's grouped-query attention (2 key/value heads) is on
TEST_CASE_FIXTURE(GpuFixture, "KV-cache decoding matches the full forward: modern architecture") {
  GptConfig config = odd_config();
  config.n_head = 4, config.n_embd = 64;
  config = GptConfig::with_arch(config, "modern");
  REQUIRE(config.kv_heads() == 2);
  check_decoder_matches_forward(config);
}

// The cache holds rows of [q | k | v]: NH = 4 query heads with 1 key/value head make a row of
// 6 heads' floats instead of 12, half the cache.
TEST_CASE_FIXTURE(GpuFixture, "grouped-query attention shrinks the KV cache") {
  GptConfig config = odd_config();
  config.n_head = 4, config.n_embd = 64;
  const gpt::GptDecoder full(gpu(), config, 4);
  config.n_kv_head = 1;
  const gpt::GptDecoder shared(gpu(), config, 4);
  CHECK(full.cache_bytes() == uint64_t(config.n_layer) * config.seq_len * 12 * 16 * 4);
  CHECK(shared.cache_bytes() * 2 == full.cache_bytes());
  CHECK(shared.memory_bytes() < full.memory_bytes());
  MESSAGE(fmt::format("KV cache: {} bytes with 4 key/value heads, {} with 1", full.cache_bytes(),
                      shared.cache_bytes()));
  check_decoder_matches_forward(config);
}

// The modern architecture with SwiGLU (H = 192): decoding runs the fused norm + c_fc kernel without
// an activation and then the swiglu kernel
TEST_CASE_FIXTURE(GpuFixture,
                  "KV-cache decoding matches the full forward: modern architecture with SwiGLU") {
  GptConfig config = odd_config();
  config.n_head = 4, config.n_embd = 64;
  config = GptConfig::with_arch(config, "modern");
  config.mlp = gpt::Mlp::swiglu;
  check_decoder_matches_forward(config);
}

TEST_CASE_FIXTURE(GpuFixture, "KV-cache decoding matches the full forward: RMSNorm weights, rotary, GELU, cap 2") {
  GptConfig config = odd_config();
  config.norm = gpt::Norm::rmsnorm, config.pos = gpt::Positions::rope, config.logit_softcap = 2;
  config.tie_embeddings = false;
  check_decoder_matches_forward(config);
}

}  // namespace alpha::test

namespace alpha::test {

// Continuous batching: sequences of different lengths share one decoder, join and leave between
// steps, and step() decodes the next token of several at once (groups of 4 rows plus a rest of 1 at
// 5 rows). Each sequence's logits must be bit for bit those of decoding it alone, so a server's
// answer does not depend on what else it serves.
static void check_batched_steps_match_single(const GptConfig& config) {
  CAPTURE(config.describe());
  const int T = config.seq_len, V = config.vocab_size, S = 6;
  const auto params = random_parameters(config);
  // sequence s: a prompt of 1 + 3s tokens, then decoded to the end of the context
  std::vector<std::vector<int32_t>> sequences;
  for (int s = 0; s < S; ++s) sequences.push_back(random_tokens(T, V, 20 + s));
  auto prompt_length = [](int s) { return 1 + 3 * s; };

  // alone: prefill, then one token at a time; logits[s][t] predicts token t + 1
  gpt::GptDecoder single(gpu(), config, 8);
  single.set_parameters(params);
  std::vector<std::vector<std::vector<float>>> alone(S);
  for (int s = 0; s < S; ++s) {
    single.reset();
    alone[s].resize(T);
    alone[s][prompt_length(s) - 1] = single.append(std::span(sequences[s]).first(prompt_length(s)));
    for (int t = prompt_length(s); t < T; ++t)
      alone[s][t] = single.append(std::span(sequences[s]).subspan(t, 1));
  }

  // together: sequence s joins at step 2s (slot s, prefilled then), all decode while they fit
  gpt::GptDecoder batched(gpu(), config, 8, 0, nullptr, S);
  batched.set_parameters(params);
  int mismatches = 0, rows_checked = 0, widest = 0;
  for (int step = 0;; ++step) {
    for (int s = 0; s < S; ++s)
      if (step == 2 * s) {
        const auto logits = batched.append(s, std::span(sequences[s]).first(prompt_length(s)));
        mismatches += logits != alone[s][prompt_length(s) - 1];
      }
    std::vector<gpt::GptDecoder::Row> rows;
    for (int s = S - 1; s >= 0; --s)  // not in slot order: rows name their slots
      if (step >= 2 * s && batched.position(s) < T)
        rows.push_back({s, sequences[s][batched.position(s)]});
    if (rows.empty()) break;
    widest = std::max<int>(widest, rows.size());
    const auto logits = batched.step(rows);
    REQUIRE(logits.size() == rows.size() * V);
    for (size_t r = 0; r < rows.size(); ++r) {
      const int s = rows[r].slot, t = batched.position(s) - 1;
      const std::span<const float> got = std::span(logits).subspan(r * V, V);
      mismatches += !std::equal(got.begin(), got.end(), alone[s][t].begin());
      ++rows_checked;
    }
  }
  CHECK(widest == S);
  CHECK(rows_checked > 100);
  CHECK(mismatches == 0);

  // a step naming a slot twice, or a full slot, is refused
  batched.reset(0);
  const std::vector<gpt::GptDecoder::Row> twice{{0, 1}, {0, 2}};
  CHECK_THROWS_WITH_AS(batched.step(twice), doctest::Contains("distinct slots"), alpha::Error);
  const std::vector<gpt::GptDecoder::Row> full{{1, 1}};
  CHECK_THROWS_WITH_AS(batched.step(full), doctest::Contains("is full"), alpha::Error);
}

TEST_CASE_FIXTURE(GpuFixture, "batched decoding steps equal one-at-a-time decoding bit for bit") {
  check_batched_steps_match_single(odd_config());
}

// GPT-2's architecture at head size 32: on CPU devices a step writes every row's k/v with one
// dispatch and runs one decode-attention dispatch over all rows (odd_config's head size 16 takes
// the per-row attention)
TEST_CASE_FIXTURE(
    GpuFixture, "batched decoding equals one-at-a-time decoding: one attention dispatch per step") {
  GptConfig config = odd_config();
  config.n_head = 2, config.n_embd = 64;
  check_batched_steps_match_single(config);
}

// head size 32: on CPU devices the texel decode attention; rotary and QK-norm positions per row
TEST_CASE_FIXTURE(GpuFixture,
                  "batched decoding equals one-at-a-time decoding: modern architecture") {
  GptConfig config = odd_config();
  config.n_head = 4, config.n_embd = 128;
  config = GptConfig::with_arch(config, "modern");
  check_batched_steps_match_single(config);
}

}  // namespace alpha::test
