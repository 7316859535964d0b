// Training behaviour: bit-identical losses for the same seed, overfitting one batch, and the
// config/batch errors that must come before any allocation.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "engine/gpt/flops.h"
#include "engine/gpt/init.h"
#include "engine/gpt/model.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

using gpt::GptConfig;

static GptConfig tiny() {
  GptConfig c;
  c.n_layer = 2, c.n_head = 2, c.n_embd = 32, c.seq_len = 16, c.vocab_size = 64;
  return c;
}

static std::vector<float> train_losses(const GptConfig& config, int B, int T, int steps, float lr, uint64_t seed) {
  gpt::GptModel model(gpu(), config, B, T);
  model.set_parameters(gpt::init_parameters(config, model.layout(), seed));
  gpt::Rng rng(seed + 1);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (int i = 0; i < B * T; ++i) tokens[i] = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  for (int i = 0; i < B * T; ++i) targets[i] = tokens[(i + 1) % (B * T)];
  ops::AdamWConfig adamw;
  adamw.lr = lr;
  adamw.weight_decay = 0.0f;
  adamw.max_norm = 1.0f;
  std::vector<float> losses;
  for (int step = 1; step <= steps; ++step) {
    adamw.step = step;
    losses.push_back(model.train_step(tokens, targets, adamw).loss);
  }
  return losses;
}

TEST_CASE_FIXTURE(GpuFixture, "the same seed gives bit-identical losses over 20 steps") {
  auto first = train_losses(tiny(), 2, 16, 20, 1e-3f, 7);
  auto second = train_losses(tiny(), 2, 16, 20, 1e-3f, 7);
  CHECK(first == second);
  CHECK(first.front() != first.back());  // it did train
}

TEST_CASE_FIXTURE(GpuFixture, "a tiny model overfits one batch") {
  auto losses = train_losses(tiny(), 2, 16, 150, 1e-2f, 3);
  INFO("first loss " << losses.front() << ", last " << losses.back());
  CHECK(losses.front() > 3.5f);   // ~ln(64) = 4.16 at initialisation
  CHECK(losses.back() < 0.05f);   // memorised
}

TEST_CASE_FIXTURE(GpuFixture, "bad configs and batches are refused before allocating") {
  auto& context = gpu();
  auto expect = [&](GptConfig c, int B, int T, const char* message) {
    CHECK_THROWS_WITH_AS(gpt::GptModel(context, c, B, T), doctest::Contains(message), alpha::Error);
  };
  GptConfig c = tiny();
  c.n_embd = 30, c.n_head = 4;
  expect(c, 1, 8, "not divisible by n_head");
  c = tiny(), c.seq_len = 0;
  expect(c, 1, 1, "seq_len is 0");
  c = tiny(), c.vocab_size = 0;
  expect(c, 1, 8, "vocab_size is 0");
  expect(tiny(), 0, 8, "batch size 0");
  expect(tiny(), 1, 17, "between 1 and the model's seq_len 16");
  c = tiny(), c.n_layer = 2, c.n_embd = 4096, c.n_head = 32, c.vocab_size = 64, c.seq_len = 16;
  expect(c, 4096, 16, "needs");  // far more memory than the machine has
  CHECK_THROWS_WITH_AS(GptConfig::preset("d0"), doctest::Contains("unknown model preset"), alpha::Error);
  CHECK(GptConfig::preset("d12").n_embd == 768);
  CHECK(GptConfig::preset("d12").vocab_size == 50257);
  CHECK(GptConfig::preset("d6").n_head == 6);
}

TEST_CASE("the parameter layout puts decayed tensors first, aligned, and counts GPT-2 124M exactly") {
  gpt::ParameterLayout layout(GptConfig::preset("d12"));
  CHECK(layout.count() == 124439808);  // GPT-2 small with tied embeddings, as Hugging Face counts it
  for (const auto& p : layout.params) {
    CHECK(p.offset % gpt::kParameterAlignment == 0);
    CHECK((p.offset < layout.decay_floats) == p.decay);
    CHECK(p.decay == (p.shape.size() == 2));
  }
}

TEST_CASE("SwiGLU's hidden width, parameter layout and FLOP count; --mlp names") {
  // H = 64·ceil(8C/192): C = 768 -> 2048 (8·768/192 = 32), C = 128 -> 384 (5.33 -> 6), C = 48 ->
  // 128; GELU and ReLU² keep 4C
  GptConfig c = GptConfig::preset("d12", "gpt2", "swiglu");
  CHECK(c.mlp_hidden() == 2048);
  CHECK(c.mlp_fc_width() == 4096);
  CHECK(GptConfig::preset("d2", "modern", "swiglu").mlp_hidden() == 384);
  c.n_embd = 48;
  CHECK(c.mlp_hidden() == 128);
  CHECK(GptConfig::preset("d12").mlp_hidden() == 3072);
  CHECK(GptConfig::preset("d12").mlp_fc_width() == 3072);
  CHECK(GptConfig::preset("d2", "modern").mlp_hidden() == 512);
  CHECK(GptConfig::preset("d2", "modern").mlp == gpt::Mlp::relu2);  // --arch=modern keeps ReLU²

  // d2 with SwiGLU (C = 128, H = 384, V = 4096 for a round count), GPT-2 otherwise, per block:
  //   qkv 3C·C + 3C = 49536, proj C·C + C = 16512, c_fc 2H·C + 2H = 98304 + 768 = 99072,
  //   c_proj C·H + C = 49152 + 128 = 49280, ln_1 + ln_2 4C = 512: 214912; two blocks 429824;
  //   wte 524288 (the tied head), ln_f 256: N = 954368 for the FLOPs (wpe 256·128 = 32768 besides)
  c = GptConfig::preset("d2", "gpt2", "swiglu");
  c.vocab_size = 4096;
  gpt::ParameterLayout layout(c);
  CHECK(layout.find("h.1.mlp.c_fc.weight").shape == std::vector<int64_t>{768, 128});
  CHECK(layout.find("h.1.mlp.c_fc.bias").shape == std::vector<int64_t>{768});
  CHECK(layout.find("h.1.mlp.c_proj.weight").shape == std::vector<int64_t>{128, 384});
  CHECK(gpt::flops_parameter_count(c) == 954368);
  CHECK(layout.count() == 954368 + 32768);

  // the architecture JSON round-trips it; unknown names are refused naming the choices
  GptConfig back;
  back.read_arch_json(c.arch_json());
  CHECK(back.mlp == gpt::Mlp::swiglu);
  CHECK(c.arch_json()["mlp"] == "swiglu");
  CHECK(!c.is_gpt2());
  CHECK_THROWS_WITH_AS(GptConfig::preset("d2", "gpt2", "bogus"),
                       doctest::Contains("unknown MLP 'bogus'"), alpha::Error);
  CHECK_THROWS_WITH_AS(back.read_arch_json({{"mlp", "geglu"}}),
                       doctest::Contains("gelu|relu2|swiglu"), alpha::Error);
}

}  // namespace alpha::test

namespace alpha::test {

TEST_CASE_FIXTURE(GpuFixture, "gradient accumulation over 2 micro-batches of B=1 matches one step of B=2") {
  const GptConfig config = tiny();
  const int T = 16, steps = 3;
  const float lr = 1e-2f;
  const auto init = gpt::init_parameters(config, gpt::ParameterLayout(config), 4);
  gpt::Rng rng(5);
  std::vector<int32_t> tokens(2 * T), targets(2 * T);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  for (auto& t : targets) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  ops::AdamWConfig adamw;
  adamw.lr = lr;
  adamw.weight_decay = 0.1f;
  adamw.max_norm = 1.0f;
  auto run = [&](int B, int micro_batches) {
    gpt::GptModel model(gpu(), config, B, T);
    model.set_parameters(init);
    std::vector<float> losses;  // and gradient norms (Adam alone would hide a wrongly scaled gradient)
    for (int step = 1; step <= steps; ++step) {
      adamw.step = step;
      const auto result = model.train_step(tokens, targets, adamw, micro_batches);
      losses.push_back(result.loss);
      losses.push_back(result.grad_norm);
    }
    return std::pair{losses, model.parameters()};
  };
  const auto [whole_losses, whole] = run(2, 1);
  const auto [accumulated_losses, accumulated] = run(1, 2);
  for (int i = 0; i < 2 * steps; ++i)
    CHECK(accumulated_losses[i] == doctest::Approx(whole_losses[i]).epsilon(1e-5));
  double worst = 0;  // in units of lr·steps, as tests/gpt's PyTorch comparison
  for (size_t i = 0; i < whole.size(); ++i)
    worst = std::max(worst, std::abs(double(whole[i]) - accumulated[i]) / (lr * steps));
  INFO("worst parameter difference: " << worst << " lr·steps");
  CHECK(worst < 1e-2);
  CHECK(whole != init);  // it did train
  gpt::GptModel model(gpu(), config, 1, T);
  CHECK_THROWS_WITH_AS(model.train_step(tokens, targets, adamw, 3), doctest::Contains("3 micro-batches"), Error);
}

}  // namespace alpha::test

namespace alpha::test {

// Recorded once, replayed every step: the learning rate, the step (bias corrections) and each
// batch's count of valid targets change from step to step and must reach the device through the
// batch buffer, so the replayed run is compared bit for bit with one that records every micro-batch
// anew.
TEST_CASE_FIXTURE(GpuFixture, "replayed training steps are bit-identical to steps recorded anew") {
  GptConfig config = tiny();
  config.qk_norm = true, config.pos = gpt::Positions::rope;  // the rope table is an activation too
  const int B = 2, T = 16, steps = 4;
  const auto init = gpt::init_parameters(config, gpt::ParameterLayout(config), 9);
  for (const int micro_batches : {1, 3}) {
    CAPTURE(micro_batches);
    const size_t n = size_t(B) * T * micro_batches;
    auto run = [&](bool replay) {
      gpt::GptModel model(gpu(), config, B, T);
      model.set_replay(replay);
      model.set_parameters(init);
      gpt::Rng rng(10);
      std::vector<float> results;
      ops::AdamWConfig adamw;
      adamw.weight_decay = 0.1f;
      adamw.max_norm = 0.5f;
      for (int step = 1; step <= steps; ++step) {
        std::vector<int32_t> tokens(n), targets(n);
        for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
        for (size_t i = 0; i < n; ++i)  // a varying share of ignored targets
          targets[i] = rng.next_u64() % (step + 2) == 0
                           ? -1
                           : static_cast<int32_t>(rng.next_u64() % config.vocab_size);
        adamw.step = step;
        adamw.lr = 1e-2f / float(step);  // a schedule
        const auto result = model.train_step(tokens, targets, adamw, micro_batches);
        results.push_back(result.loss);
        results.push_back(result.grad_norm);
      }
      auto params = model.parameters();
      auto m = model.adam_m();
      results.insert(results.end(), params.begin(), params.end());
      results.insert(results.end(), m.begin(), m.end());
      return results;
    };
    const auto recorded = run(false), replayed = run(true);
    CHECK(recorded.size() == replayed.size());
    CHECK(std::memcmp(recorded.data(), replayed.data(), recorded.size() * sizeof(float)) == 0);
    CHECK(recorded[0] != recorded[2 * (steps - 1)]);  // it trained: the losses moved
  }
}

TEST_CASE_FIXTURE(GpuFixture, "a batch whose targets are all ignored is refused") {
  gpt::GptModel model(gpu(), tiny(), 1, 16);
  std::vector<int32_t> tokens(16, 1), targets(16, -1);
  ops::AdamWConfig adamw;
  adamw.lr = 1e-3f;
  CHECK_THROWS_WITH_AS(model.train_step(tokens, targets, adamw), doctest::Contains("ignored"),
                       Error);
}

}  // namespace alpha::test

namespace alpha::test {

// fp16 loss scaling multiplies the loss's gradient by a power of two and AdamW divides it out:
// every step in between is then exact, so train_step (scale 2^16) lands bit for bit where the same
// steps with no scaling do. Then an overflowing scale: the step is skipped (weights unchanged),
// reported with a non-finite gradient norm, and the scale halves.
TEST_CASE_FIXTURE(
    GpuFixture, "fp16 loss scaling is exact, and an overflow skips the step and halves the scale") {
  if (!gpu().fp16_enabled()) {
    MESSAGE("this device has no 16-bit storage; skipped");
    return;
  }
  const GptConfig config = tiny();
  const int B = 2, T = 16, steps = 3;
  const auto init = gpt::init_parameters(config, gpt::ParameterLayout(config), 21);
  gpt::Rng rng(22);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  for (auto& t : targets) t = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
  ops::AdamWConfig adamw;
  adamw.lr = 1e-2f, adamw.weight_decay = 0.1f, adamw.max_norm = 0.5f;

  gpt::GptModel scaled(gpu(), config, B, T, 0, gpt::Precision::fp16),
      plain(gpu(), config, B, T, 0, gpt::Precision::fp16);
  CHECK(scaled.loss_scale() == 65536.0f);
  scaled.set_parameters(init), plain.set_parameters(init);
  for (int step = 1; step <= steps; ++step) {
    adamw.step = step;
    const auto result = scaled.train_step(tokens, targets, adamw);
    plain.set_batch(tokens, targets);  // scale 1 / (valid targets), no loss scaling
    vk::CommandStream stream(gpu());
    plain.zero_grad(stream);
    plain.forward(stream, true);
    plain.backward(stream);
    plain.optimizer_step(stream, adamw);
    stream.submit();
    CHECK(result.loss == plain.read_loss());
    CHECK(result.grad_norm == plain.read_grad_norm());
  }
  const auto after = scaled.parameters();
  CHECK(after == plain.parameters());
  CHECK(after != init);

  scaled.restore_loss_scaler(std::ldexp(1.0f, 120), 5);  // the gradients' squares overflow f32
  adamw.step = steps + 1;
  const auto overflow = scaled.train_step(tokens, targets, adamw);
  CHECK(std::isfinite(overflow.loss));
  CHECK_FALSE(std::isfinite(overflow.grad_norm));
  CHECK(scaled.parameters() == after);  // the step was skipped
  CHECK(scaled.loss_scale() == std::ldexp(1.0f, 119));
  CHECK(scaled.loss_scaler().clean_steps() == 0);
}

TEST_CASE(
    "the loss scaler halves on overflow and doubles after 2000 clean steps, within [1, 2^24]") {
  gpt::LossScaler scaler(true);
  scaler.update(false);
  CHECK(scaler.scale() == 32768.0f);
  for (int i = 0; i < gpt::LossScaler::kGrowthInterval - 1; ++i) scaler.update(true);
  CHECK(scaler.scale() == 32768.0f);
  scaler.update(true);
  CHECK(scaler.scale() == 65536.0f);
  scaler.restore(1.0f, 0);
  scaler.update(false);
  CHECK(scaler.scale() == 1.0f);
  scaler.restore(16777216.0f, gpt::LossScaler::kGrowthInterval - 1);
  scaler.update(true);
  CHECK(scaler.scale() == 16777216.0f);
  gpt::LossScaler off(false);
  off.update(false);
  CHECK(off.scale() == 1.0f);
  CHECK_THROWS_AS(scaler.restore(0.0f, 0), Error);
}

}  // namespace alpha::test
