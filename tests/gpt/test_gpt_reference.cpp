// The whole model against PyTorch (tests/reference/gpt_reference.py): the same config, initial
// weights and batch give the same logits, loss, every gradient, and every parameter after three
// AdamW steps with gradient clipping — for several configs with odd sizes, GPT-2's architecture and
// the others (every option of GptConfig in at least one case). This is the test that
// catches layout bugs (heads mixed up, causality, transposes) that per-kernel tests cannot.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>

#include "engine/gpt/init.h"
#include "engine/gpt/model.h"
#include "tests/gpt/reference_support.h"
#include "tests/gpt/tensor_file.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

using gpt::GptConfig;

struct ReferenceCase {
  GptConfig config;
  int B, T;
  float max_norm;  // small: clipping active; huge: inactive
  const char* why;
  uint64_t max_binding_bytes = 0;  // > 0 forces the token embedding and logits into blocks
  gpt::Precision precision = gpt::Precision::fp32;
};

// fp16's tolerances: both sides round the same f32 values to f16, but values that differ in their
// last f32 bits (summation order) can round to neighbouring f16 values, 2^-11 apart. Measured:
// logits 1.5e-4, gradients 8e-5, parameters 0.03·lr·steps; alpha left in fp32 against this
// reference misses by 3.7e-4, 5.6e-4 and 0.53, so each tolerance sits between the two.
static double tolerance(const ReferenceCase& c, double fp32, double fp16) {
  return c.precision == gpt::Precision::fp16 ? fp16 : fp32;
}

static void run_reference_case(const ReferenceCase& c) {
  auto& context = gpu();
  const auto& config = c.config;
  gpt::GptModel model(context, config, c.B, c.T, c.max_binding_bytes, c.precision);
  const auto& layout = model.layout();

  gpt::Rng rng(99);
  const auto params = reference_parameters(config, layout, 1234, rng);
  std::vector<int32_t> tokens(c.B * c.T), targets(c.B * c.T);
  for (int i = 0; i < c.B * c.T; ++i) {
    tokens[i] = static_cast<int32_t>(rng.next_u64() % config.vocab_size);
    targets[i] = i % 7 == 3 ? -1 : static_cast<int32_t>(rng.next_u64() % config.vocab_size);  // some ignored
  }
  ops::AdamWConfig adamw;
  adamw.lr = 1e-3f;
  adamw.beta1 = 0.9f;
  adamw.beta2 = 0.95f;
  adamw.eps = 1e-8f;
  adamw.weight_decay = 0.1f;
  adamw.max_norm = c.max_norm;
  const int steps = 3;

  // The reference's input: config, hyper-parameters, batch, parameters by name.
  TensorFile input;
  input["config"] = {{6}, {}, {config.n_layer, config.n_head, config.n_embd, config.seq_len, config.vocab_size, steps}};
  if (!config.is_gpt2()) {
    // mlp as the reference codes it: 0 gelu, 1 relu2, 2 swiglu
    static_assert(int(gpt::Mlp::relu2) == 1 && int(gpt::Mlp::swiglu) == 2);
    input["arch"] = {{7}, {}, {config.pos == gpt::Positions::rope, config.norm == gpt::Norm::rmsnorm,
                               config.norm_params, int(config.mlp), config.qk_norm,
                               config.tie_embeddings, config.kv_heads()}};
    input["arch_f32"] = {{2}, {config.logit_softcap, config.rope_theta}, {}};
  }
  input["adamw"] = {{6}, {adamw.lr, adamw.beta1, adamw.beta2, adamw.eps, adamw.weight_decay, adamw.max_norm}, {}};
  if (c.precision == gpt::Precision::fp16) input["precision"] = {{1}, {}, {1}};
  input["tokens"] = {{c.B, c.T}, {}, tokens};
  input["targets"] = {{c.B, c.T}, {}, targets};
  for (const auto& p : layout.params)
    input[p.name] = {p.shape, {params.begin() + p.offset, params.begin() + p.offset + p.numel}, {}};
  TensorFile want = run_reference_script("gpt_reference.py", "", input);

  // 1. logits (forward without the fused loss, which overwrites them with their gradient)
  model.set_parameters(params);
  model.set_batch(tokens, targets);
  {
    vk::CommandStream stream(context);
    model.forward(stream, false);
    stream.submit();
  }
  auto logits = model.read_logits();
  // fp32 through L blocks with different summation orders: ~1e-6 relative; 1e-4 leaves margin
  const double worst_logits = compare_relative("logits", logits.data(), want["logits"].f32.data(),
                                               logits.size(), tolerance(c, 1e-4, 2.5e-4));
  MESSAGE(fmt::format("{}: logits worst relative error {:.1e}", c.why, worst_logits));

  // 2. loss and every gradient
  {
    vk::CommandStream stream(context);
    model.zero_grad(stream);
    model.forward(stream, true);
    model.backward(stream);
    stream.submit();
  }
  const float loss = model.read_loss();
  compare_relative("loss", &loss, want["loss"].f32.data(), 1,
                   tolerance(c, 1e-5, 1e-5));  // one mean of N log-probs
  auto grads = model.gradients();
  double worst_grad = 0;
  for (const auto& p : layout.params) {
    // gradients go back through every block: 1e-4 relative to the tensor's largest element
    worst_grad = std::max(worst_grad, compare_relative("grad." + p.name, grads.data() + p.offset,
                                                       want["grad." + p.name].f32.data(), p.numel,
                                                       tolerance(c, 1e-4, 2.5e-4)));
  }

  // 3. three AdamW steps with clipping, on the same batch
  std::vector<float> losses, norms;
  for (int step = 1; step <= steps; ++step) {
    adamw.step = step;
    vk::CommandStream stream(context);
    model.zero_grad(stream);
    model.forward(stream, true);
    model.backward(stream);
    model.optimizer_step(stream, adamw);
    stream.submit();
    losses.push_back(model.read_loss());
    norms.push_back(model.read_grad_norm());
  }
  compare_relative("step_losses", losses.data(), want["step_losses"].f32.data(), steps,
                   tolerance(c, 1e-5, 2e-5));
  compare_relative("step_norms", norms.data(), want["step_norms"].f32.data(), steps,
                   tolerance(c, 1e-4, 2.5e-4));
  auto after = model.parameters();
  double worst_after = 0;  // in units of lr·steps, the most Adam can move a weight
  for (const auto& p : layout.params) {
    // Adam normalises each update to ~lr whatever the gradient's size, so where a gradient is near zero
    // its last-bit differences become sizeable fractions of lr: measure in lr·steps and allow 1%.
    const auto& ref = want["after." + p.name].f32;
    double worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < p.numel; ++i) {
      const double err = std::abs(double(after[p.offset + i]) - ref[i]) / (adamw.lr * steps);
      if (err > worst) worst = err, at = i;
    }
    INFO(fmt::format(
        "after.{}: worst |diff| {:.2e}·lr·steps at {} (alpha {} torch {}), tolerance {}", p.name,
        worst, at, after[p.offset + at], ref[at], tolerance(c, 1e-2, 0.1)));
    CHECK(worst <= tolerance(c, 1e-2, 0.1));
    worst_after = std::max(worst_after, worst);
  }
  MESSAGE(fmt::format("{}: loss {} (torch {}); worst relative errors: gradients {:.1e}; parameters after {} steps differ by at most {:.1e}·lr·steps",
                      c.why, loss, want["loss"].f32[0], worst_grad, steps, worst_after));
}

TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch: odd sizes, clipping active") {
  GptConfig config;
  config.n_layer = 2, config.n_head = 3, config.n_embd = 48, config.seq_len = 37, config.vocab_size = 101;
  run_reference_case({config, 2, 37, 0.05f, "odd sizes"});
}

// GPT-2's token embedding (154 MB) and logits exceed lavapipe's 128 MiB binding: they are bound in
// blocks. A 12 KiB limit splits this model's wte into 2 vocabulary blocks and its logits into 3 row
// blocks of strided views, so the blocked LM head and embedding are checked against PyTorch too.
TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch: LM head and embedding bound in blocks") {
  GptConfig config;
  config.n_layer = 2, config.n_head = 3, config.n_embd = 48, config.seq_len = 37, config.vocab_size = 101;
  run_reference_case({config, 2, 37, 0.05f, "blocked LM head", 12288});
}

TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch: T shorter than the context, clipping inactive") {
  GptConfig config;
  config.n_layer = 3, config.n_head = 4, config.n_embd = 64, config.seq_len = 32, config.vocab_size = 256;
  run_reference_case({config, 3, 19, 1e6f, "T < seq_len"});
}

// The architectures: --arch=modern (rotary, parameter-free RMSNorm, QK-norm, ReLU², untied head,
// soft-capped logits), and the options in other combinations: RMSNorm with weights, LayerNorm
// without parameters, rotary without QK-norm, a cap that bites (2: logits are ~1 here).
static GptConfig odd_sizes(const char* arch, int n_head = 3) {
  GptConfig config;
  config.n_layer = 2, config.n_head = n_head, config.n_embd = 16 * n_head, config.seq_len = 37;
  config.vocab_size = 101;
  return GptConfig::with_arch(config, arch);
}

// 4 heads: grouped-query attention with 2 key/value heads (the modern preset's n_head/2)
TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch: the modern architecture") {
  const GptConfig config = odd_sizes("modern", 4);
  REQUIRE(config.kv_heads() == 2);
  run_reference_case({config, 2, 37, 0.05f, "modern"});
}

TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch: GPT-2 with multi-query attention (1 key/value head)") {
  GptConfig config = odd_sizes("gpt2", 4);
  config.n_kv_head = 1;
  run_reference_case({config, 2, 23, 1e6f, "mqa"});
}

TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch: RMSNorm with weights, untied head, ReLU², QK-norm") {
  GptConfig config = odd_sizes("gpt2");
  config.norm = gpt::Norm::rmsnorm, config.tie_embeddings = false, config.mlp = gpt::Mlp::relu2;
  config.qk_norm = true;
  run_reference_case({config, 2, 29, 1e6f, "rmsnorm + weights, untied, relu2, qk-norm"});
}

// SwiGLU (c_fc (2H, C): gate rows, then up; c_proj (C, H), H = 64·ceil(8C/192)): with C = 64, H =
// 192, alongside rotary, RMSNorm with weights and grouped-query attention (4 query heads, 2
// key/value heads); and with C = 48, H = 128, in GPT-2's architecture otherwise, clipping active.
TEST_CASE_FIXTURE(GpuFixture,
                  "GPT matches PyTorch: SwiGLU with rotary, RMSNorm and grouped-query attention") {
  GptConfig config = odd_sizes("gpt2", 4);
  config.mlp = gpt::Mlp::swiglu, config.pos = gpt::Positions::rope,
  config.norm = gpt::Norm::rmsnorm;
  config.n_kv_head = 2;
  REQUIRE(config.mlp_hidden() == 192);
  run_reference_case({config, 2, 31, 1e6f, "swiglu + rope + rmsnorm + gqa"});
}

TEST_CASE_FIXTURE(GpuFixture,
                  "GPT matches PyTorch: SwiGLU in GPT-2's architecture, clipping active") {
  GptConfig config = odd_sizes("gpt2");
  config.mlp = gpt::Mlp::swiglu;
  REQUIRE(config.mlp_hidden() == 128);
  run_reference_case({config, 3, 19, 0.05f, "gpt2 + swiglu"});
}

TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch: parameter-free LayerNorm, rotary, logits capped at 2") {
  GptConfig config = odd_sizes("gpt2");
  config.norm_params = false, config.pos = gpt::Positions::rope, config.rope_theta = 500;
  config.logit_softcap = 2;
  run_reference_case({config, 3, 19, 0.05f, "parameter-free layernorm, rope, softcap 2", 12288});
}

// Mixed precision (--precision=fp16): the reference rounds every linear layer's input and weight to
// f16 as alpha does (f32 arithmetic, f32 gradients), in GPT-2's architecture with the LM head bound
// in blocks, and in the modern one.
TEST_CASE_FIXTURE(GpuFixture, "GPT matches PyTorch in fp16 mixed precision") {
  if (!gpu().fp16_enabled()) {
    MESSAGE("this device has no 16-bit storage; skipped");
    return;
  }
  GptConfig config;
  config.n_layer = 2, config.n_head = 3, config.n_embd = 48, config.seq_len = 37,
  config.vocab_size = 101;
  run_reference_case(
      {config, 2, 37, 0.05f, "fp16, gpt2, blocked LM head", 12288, gpt::Precision::fp16});
  run_reference_case(
      {odd_sizes("modern", 4), 2, 29, 1e6f, "fp16, modern", 0, gpt::Precision::fp16});
}

}  // namespace alpha::test
