// Non-matmul kernel benchmarks (see kernel_bench.h).
#include "perf/kernel_bench.h"

#include <fmt/format.h>

#include <functional>

#include "common/error.h"
#include "engine/gpt/parameters.h"
#include "engine/ops/adamw.h"
#include "engine/ops/attention.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/softmax_xent.h"
#include "engine/ops/swiglu.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"

namespace alpha::perf {

const char* kernel_op_name(KernelOp op) {
  switch (op) {
    case KernelOp::AttentionForward:
      return "attention_forward";
    case KernelOp::AttentionBackward:
      return "attention_backward";
    case KernelOp::LayernormForward:
      return "layernorm_forward";
    case KernelOp::LayernormBackward:
      return "layernorm_backward";
    case KernelOp::GeluForward:
      return "gelu_forward";
    case KernelOp::GeluBackward:
      return "gelu_backward";
    case KernelOp::SwigluForward:
      return "swiglu_forward";
    case KernelOp::SwigluBackward:
      return "swiglu_backward";
    case KernelOp::SoftmaxXent:
      return "softmax_xent";
    case KernelOp::GradNorm:
      return "grad_norm";
    case KernelOp::AdamW:
      return "adamw";
  }
  return "?";
}

int64_t KernelCase::dim(const std::string& name) const {
  for (const auto& [key, value] : dims)
    if (key == name) return value;
  fail("{} case has no dimension {}", kernel_op_name(op), name);
}

const std::vector<std::string>& kernel_groups() {
  static const std::vector<std::string> groups{"attention", "layernorm", "gelu", "softmax_xent",
                                               "adamw"};
  return groups;
}

std::vector<KernelCase> gpt_kernel_cases(const std::string& group, const std::string& model,
                                         const gpt::GptConfig& config, int B, int T) {
  const int64_t N = int64_t(B) * T, C = config.n_embd, NH = config.n_head, HS = config.head_size();
  const int64_t V = config.vocab_size;
  if (group == "attention") {
    const std::string shape = fmt::format("B{} T{} NH{} HS{}", B, T, NH, HS);
    const std::vector<std::pair<std::string, int64_t>> dims{
        {"B", B}, {"T", T}, {"NH", NH}, {"HS", HS}};
    return {
        {KernelOp::AttentionForward, model, dims, shape, attention_forward_work(B, T, NH, HS)},
        {KernelOp::AttentionBackward, model, dims, shape, attention_backward_work(B, T, NH, HS)}};
  }
  if (group == "layernorm") {
    const std::string shape = fmt::format("(BT,C)=({},{})", N, C);
    return {{KernelOp::LayernormForward,
             model,
             {{"N", N}, {"C", C}},
             shape,
             layernorm_forward_work(N, C)},
            {KernelOp::LayernormBackward,
             model,
             {{"N", N}, {"C", C}},
             shape,
             layernorm_backward_work(N, C)}};
  }
  if (group == "gelu" && config.mlp == gpt::Mlp::swiglu) {
    const int64_t H = config.mlp_hidden();
    const std::string shape = fmt::format("(BT,2H)=({},{})", N, 2 * H);
    return {
        {KernelOp::SwigluForward, model, {{"N", N}, {"H", H}}, shape, swiglu_forward_work(N, H)},
        {KernelOp::SwigluBackward, model, {{"N", N}, {"H", H}}, shape, swiglu_backward_work(N, H)}};
  }
  if (group == "gelu") {
    const std::string shape = fmt::format("(BT,4C)=({},{})", N, 4 * C);
    return {{KernelOp::GeluForward,
             model,
             {{"N", N}, {"D", 4 * C}},
             shape,
             gelu_forward_work(N * 4 * C)},
            {KernelOp::GeluBackward,
             model,
             {{"N", N}, {"D", 4 * C}},
             shape,
             gelu_backward_work(N * 4 * C)}};
  }
  if (group == "softmax_xent")
    return {{KernelOp::SoftmaxXent,
             model,
             {{"N", N}, {"V", V}},
             fmt::format("(BT,V)=({},{})", N, V),
             softmax_xent_work(N, V)}};
  if (group == "adamw") {
    const int64_t P = gpt::ParameterLayout(config).count();
    const std::string shape = fmt::format("P={}", P);
    return {{KernelOp::GradNorm, model, {{"P", P}}, shape, grad_norm_work(P)},
            {KernelOp::AdamW, model, {{"P", P}}, shape, adamw_work(P)}};
  }
  fail("unknown kernel group '{}'", group);
}

namespace {
using Record = std::function<void(vk::CommandStream&)>;

// Tensors of one case, sub-allocated from the bench's arena.
class Inputs {
 public:
  explicit Inputs(vk::Arena& arena) : arena_(arena) {}
  Tensor random(std::vector<int64_t> shape) {
    Tensor t = Tensor::empty(arena_, std::move(shape));
    upload(arena_, t, random_values(t.numel(), ++seed_));
    return t;
  }
  Tensor zeros(std::vector<int64_t> shape) {
    Tensor t = Tensor::empty(arena_, std::move(shape));
    upload(arena_, t, std::vector<float>(t.numel(), 0.0f));
    return t;
  }
  Tensor empty(std::vector<int64_t> shape) { return Tensor::empty(arena_, std::move(shape)); }
  vk::Arena& arena() { return arena_; }

 private:
  vk::Arena& arena_;
  uint32_t seed_ = 0;
};

// Runs `work` once, untimed: the forward a backward needs.
void run_once(vk::Context& context, const Record& work) {
  vk::CommandStream stream(context);
  work(stream);
  stream.submit();
}

Record prepare_attention(vk::Context& context, Inputs& in, const KernelCase& c, bool backward) {
  const int64_t B = c.dim("B"), T = c.dim("T"), NH = c.dim("NH"), C = NH * c.dim("HS");
  Tensor qkv = in.random({B, T, 3 * C});  // (B, T, 3C)
  Tensor out = in.empty({B, T, C});       // (B, T, C)
  Tensor lse = in.empty({B, NH, T});      // (B, NH, T)
  Record forward = [=](vk::CommandStream& s) { ops::attention_forward(s, qkv, out, lse, int(NH)); };
  if (!backward) return forward;
  run_once(context, forward);
  Tensor dout = in.random({B, T, C});     // (B, T, C)
  Tensor dqkv = in.empty({B, T, 3 * C});  // (B, T, 3C)
  return
      [=](vk::CommandStream& s) { ops::attention_backward(s, dout, qkv, out, lse, dqkv, int(NH)); };
}

Record prepare_layernorm(vk::Context& context, Inputs& in, const KernelCase& c, bool backward) {
  const int64_t N = c.dim("N"), C = c.dim("C");
  Tensor x = in.random({N, C}), weight = in.random({C}), bias = in.random({C});
  Tensor out = in.empty({N, C}), mean = in.empty({N}), rstd = in.empty({N});
  Record forward = [=](vk::CommandStream& s) {
    ops::layernorm_forward(s, x, weight, bias, out, mean, rstd);
  };
  if (!backward) return forward;
  run_once(context, forward);
  Tensor dout = in.random({N, C}), dx = in.zeros({N, C}), dweight = in.zeros({C}),
         dbias = in.zeros({C});
  return [=](vk::CommandStream& s) {
    ops::layernorm_backward(s, dout, x, weight, mean, rstd, dx, dweight, dbias);
  };
}

Record prepare_gelu(Inputs& in, const KernelCase& c, bool backward) {
  const int64_t N = c.dim("N"), D = c.dim("D");
  Tensor x = in.random({N, D}), out = in.empty({N, D});  // (BT, 4C)
  if (!backward) return [=](vk::CommandStream& s) { ops::gelu_forward(s, x, out); };
  Tensor dout = in.random({N, D});
  return [=](vk::CommandStream& s) { ops::gelu_backward(s, x, dout, out); };
}

Record prepare_swiglu(Inputs& in, const KernelCase& c, bool backward) {
  const int64_t N = c.dim("N"), H = c.dim("H");
  Tensor x = in.random({N, 2 * H}), out = in.empty({N, H});  // (BT, 2H), (BT, H)
  if (!backward) return [=](vk::CommandStream& s) { ops::swiglu_forward(s, x, out); };
  Tensor dout = in.random({N, H}), dx = in.empty({N, 2 * H});
  return [=](vk::CommandStream& s) { ops::swiglu_backward(s, x, dout, dx); };
}

Record prepare_softmax_xent(Inputs& in, const KernelCase& c) {
  const int64_t N = c.dim("N"), V = c.dim("V");
  Tensor logits = in.random({N, V}), dlogits = in.empty({N, V}), losses = in.empty({N});
  Tensor targets = Tensor::empty(in.arena(), {N}, DType::i32);
  std::vector<int32_t> ids(N);
  for (int64_t i = 0; i < N; ++i) ids[i] = int32_t((i * 7919) % V);
  upload(in.arena(), targets, ids);
  const Tensor scale = Tensor::of(in.arena(), std::vector<float>{1.0f / float(N)});
  return [=](vk::CommandStream& s) {
    ops::softmax_cross_entropy(s, logits, targets, losses, dlogits, scale);
  };
}

Record prepare_optimizer(vk::Context& context, Inputs& in, const KernelCase& c, bool update) {
  const int64_t P = c.dim("P");
  Tensor grads = in.random({P}), partials = in.empty({ops::kNormPartials}), norm_sq = in.empty({1});
  Record norm = [=](vk::CommandStream& s) { ops::grad_norm_squared(s, grads, partials, norm_sq); };
  if (!update) return norm;
  run_once(context, norm);
  Tensor params = in.random({P}), m = in.zeros({P}), v = in.zeros({P});
  ops::AdamWConfig config;
  config.lr = 3e-4f;
  config.weight_decay = 0.1f;
  config.max_norm = 1.0f;
  const auto scalars = ops::adamw_step_scalars(config);
  const Tensor step =
      Tensor::of(in.arena(), std::vector<float>{scalars.decay, scalars.step_size, scalars.bc2_sqrt,
                                                scalars.inv_loss_scale});
  return [=](vk::CommandStream& s) {
    ops::adamw_update(s, params, grads, m, v, norm_sq, step, config);
  };
}
}  // namespace

KernelResult bench_kernel(vk::Context& context, const KernelCase& kernel, int iters, int warmup,
                          double budget_ms) {
  vk::Arena arena(context);
  Inputs in(arena);
  Record record;
  switch (kernel.op) {
    case KernelOp::AttentionForward:
      record = prepare_attention(context, in, kernel, false);
      break;
    case KernelOp::AttentionBackward:
      record = prepare_attention(context, in, kernel, true);
      break;
    case KernelOp::LayernormForward:
      record = prepare_layernorm(context, in, kernel, false);
      break;
    case KernelOp::LayernormBackward:
      record = prepare_layernorm(context, in, kernel, true);
      break;
    case KernelOp::GeluForward:
      record = prepare_gelu(in, kernel, false);
      break;
    case KernelOp::GeluBackward:
      record = prepare_gelu(in, kernel, true);
      break;
    case KernelOp::SwigluForward:
      record = prepare_swiglu(in, kernel, false);
      break;
    case KernelOp::SwigluBackward:
      record = prepare_swiglu(in, kernel, true);
      break;
    case KernelOp::SoftmaxXent:
      record = prepare_softmax_xent(in, kernel);
      break;
    case KernelOp::GradNorm:
      record = prepare_optimizer(context, in, kernel, false);
      break;
    case KernelOp::AdamW:
      record = prepare_optimizer(context, in, kernel, true);
      break;
  }
  KernelResult r{kernel, time_iterations(context, iters, warmup, record, budget_ms)};
  r.rate = kernel_rate(kernel.work, r.timing.median_ms);
  return r;
}

}  // namespace alpha::perf
