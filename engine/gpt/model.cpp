// GPT forward, backward and optimizer step as kernel calls (see model.h). The per-layer code reads
// top to bottom in model order, llm.c style; shapes in the comments use B, T, C, NH, V, N = B·T.
#include "engine/gpt/model.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "engine/gpt/block.h"
#include "engine/gpt/lm_head.h"
#include "engine/ops/attention.h"
#include "engine/ops/bias_grad.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/embedding.h"
#include "engine/ops/launch.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/matmul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax_xent.h"

namespace alpha::gpt {

using ops::Layout;

// The activations by name; their shapes, order and lifetimes are for_each_activation's. A layer's
// are block_forward's BlockTensors.
struct GptModel::Activations {
  Tensor tokens, targets, encoded;
  std::vector<BlockTensors> layers;
  Tensor lnf, lnf_mean, lnf_rstd;
  Tensor logits;  // holds dlogits after the fused loss
  Tensor losses;
  Tensor dresidual, dln, dqkv, dfch;   // backward scratch, reused by every layer
  Tensor dfch_act;                     // (B, T, H) d(fch_act), swiglu only (else dfch, in place)
  Tensor partials, loss_sum, norm_sq;  // reductions
  Tensor rope_table;                   // (seq_len, head_size/2, 2) cos and sin, when pos = rope
};

namespace {

constexpr int64_t kPartials = std::max<int64_t>(ops::kReduceGroups, ops::kNormPartials);

// What keeps an activation alive: the forward's outputs that the backward reads (and the batch and
// the logits), scratch that one pass reuses across layers, or a constant uploaded once.
enum class Lifetime { saved, scratch, constant };

// The one list of activations, in allocation order: visit(tensor, shape, dtype, lifetime) for each.
// The Activations struct declares them, the constructor allocates through this, plan_memory sums
// through it; a new activation is one line here (and its member). Tensors an architecture does not
// use are not visited (and stay empty).
template <class Visit>
void for_each_activation(GptModel::Activations& a, const GptConfig& c, int64_t B, int64_t T,
                         Visit&& visit) {
  const int64_t C = c.n_embd, NH = c.n_head, V = c.vocab_size, N = B * T;
  const int64_t Q = (c.n_head + 2 * c.kv_heads()) * c.head_size();
  const int64_t H = c.mlp_hidden(), F = c.mlp_fc_width();  // the MLP's hidden and c_fc widths
  const auto f32 = DType::f32;
  const auto saved = Lifetime::saved, scratch = Lifetime::scratch;
  visit(a.tokens, {B, T}, DType::i32, saved);
  visit(a.targets, {B, T}, DType::i32, saved);
  visit(a.encoded, {B, T, C}, f32, saved);
  a.layers.resize(c.n_layer);
  for (auto& l : a.layers) {
    visit(l.ln1, {B, T, C}, f32, saved);
    visit(l.ln1_mean, {N}, f32, saved);
    visit(l.ln1_rstd, {N}, f32, saved);
    if (transforms_qk(c)) visit(l.qkv_raw, {B, T, Q}, f32, saved);
    if (c.qk_norm) visit(l.qk_rstd, {N, c.n_head + c.kv_heads()}, f32, saved);
    visit(l.qkv, {B, T, Q}, f32, saved);
    visit(l.atty, {B, T, C}, f32, saved);
    visit(l.lse, {B, NH, T}, f32, saved);
    visit(l.attproj, {B, T, C}, f32, saved);
    visit(l.residual2, {B, T, C}, f32, saved);
    visit(l.ln2, {B, T, C}, f32, saved);
    visit(l.ln2_mean, {N}, f32, saved);
    visit(l.ln2_rstd, {N}, f32, saved);
    visit(l.fch, {B, T, F}, f32, saved);
    visit(l.fch_act, {B, T, H}, f32, saved);
    visit(l.fcproj, {B, T, C}, f32, saved);
    visit(l.residual3, {B, T, C}, f32, saved);
  }
  visit(a.lnf, {B, T, C}, f32, saved);
  visit(a.lnf_mean, {N}, f32, saved);
  visit(a.lnf_rstd, {N}, f32, saved);
  visit(a.logits, {B, T, V}, f32, saved);
  visit(a.losses, {B, T}, f32, saved);
  visit(a.dresidual, {B, T, C}, f32, scratch);
  visit(a.dln, {B, T, C}, f32, scratch);
  visit(a.dqkv, {B, T, Q}, f32, scratch);
  visit(a.dfch, {B, T, F}, f32, scratch);
  if (c.mlp == Mlp::swiglu) visit(a.dfch_act, {B, T, H}, f32, scratch);
  visit(a.partials, {kPartials}, f32, scratch);
  visit(a.loss_sum, {1}, f32, scratch);
  visit(a.norm_sq, {1}, f32, scratch);
  if (c.pos == Positions::rope) visit(a.rope_table, {c.seq_len, c.head_size() / 2, 2}, f32, Lifetime::constant);
}

// Bytes of the activations with this lifetime, as the arena allocates them (256-byte granules).
uint64_t activation_bytes(const GptConfig& c, int64_t B, int64_t T, Lifetime which) {
  GptModel::Activations a;
  uint64_t total = 0;
  for_each_activation(a, c, B, T,
                      [&](Tensor&, std::vector<int64_t> shape, DType dtype, Lifetime lifetime) {
                        if (lifetime != which) return;
                        uint64_t n = dtype_bytes(dtype);
                        for (int64_t d : shape) n *= d;
                        total += (n + 255) / 256 * 256;
                      });
  return total;
}

uint64_t host_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
}

}  // namespace

std::vector<MemoryGroup> GptModel::plan_memory(const GptConfig& config, int B, int T) {
  const uint64_t param_bytes = ParameterLayout(config).total_floats * 4;
  return {{"parameters", param_bytes},
          {"gradients", param_bytes},
          {"adamw m", param_bytes},
          {"adamw v", param_bytes},
          {"activations", activation_bytes(config, B, T, Lifetime::saved) +
                              activation_bytes(config, B, T, Lifetime::constant)},
          {"backward scratch", activation_bytes(config, B, T, Lifetime::scratch)}};
}

std::vector<MemoryGroup> GptModel::memory() const { return plan_memory(config_, B_, T_); }

static void check_fits(vk::Context& context, const GptConfig& config, int B, int T) {
  config.validate();
  if (B <= 0) fail("batch size {} must be positive", B);
  if (T <= 0 || T > config.seq_len)
    fail("sequence length {} must be between 1 and the model's seq_len {}", T, config.seq_len);
  uint64_t total = 0;
  for (const auto& group : GptModel::plan_memory(config, B, T)) total += group.bytes;
  const auto& info = context.info();
  // A CPU device (lavapipe) allocates host memory whatever heap size it reports: compare with RAM.
  const bool cpu = info.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  const uint64_t available = cpu ? host_memory_bytes() : info.device_local_bytes;
  if (available > 0 && total > available)
    fail("model {} with batch {}x{} needs {:.2f} GiB, more than the {:.2f} GiB of {} on {}: use a smaller batch, "
         "sequence or model",
         config.describe(), B, T, total / 1073741824.0, available / 1073741824.0, cpu ? "host memory" : "device memory",
         info.name);
  // The token embedding and the logits are bound in blocks; every other activation is bound whole,
  // and the largest, the MLP's c_fc output (B, T, F), must fit one storage-buffer binding.
  const uint64_t mlp_bytes = uint64_t(B) * T * config.mlp_fc_width() * 4;
  if (mlp_bytes > info.max_storage_buffer_range)
    fail("batch {}x{} of model {} has a {:.0f} MiB MLP activation, more than the {:.0f} MiB {} binds at once; "
         "use a smaller batch or sequence",
         B, T, config.describe(), mlp_bytes / 1048576.0, info.max_storage_buffer_range / 1048576.0, info.name);
}


GptModel::GptModel(vk::Context& context, const GptConfig& config, int B, int T, uint64_t max_binding_bytes)
    : context_(context),
      config_((check_fits(context, config, B, T), config)),
      layout_(config),
      B_(B),
      T_(T),
      max_binding_bytes_(max_binding_bytes),
      arena_(context),
      acts_(std::make_unique<Activations>()) {
  const int64_t bytes = layout_.total_floats * 4;
  params_ = arena_.allocate(bytes);
  grads_ = arena_.allocate(bytes);
  adam_m_ = arena_.allocate(bytes);
  adam_v_ = arena_.allocate(bytes);

  for_each_activation(*acts_, config_, B, T,
                      [&](Tensor& t, std::vector<int64_t> shape, DType dtype, Lifetime) {
                        t = Tensor::empty(arena_, shape, dtype);
                      });

  if (config_.pos == Positions::rope)
    upload(arena_, acts_->rope_table, ops::rope_table(config_.seq_len, config_.head_size(), config_.rope_theta));
  // AdamW state starts at zero; gradients too.
  vk::CommandStream stream(context_);
  fill_buffer(stream, adam_m_, layout_.total_floats, 0.0f);
  fill_buffer(stream, adam_v_, layout_.total_floats, 0.0f);
  fill_buffer(stream, grads_, layout_.total_floats, 0.0f);
  stream.submit();
}

GptModel::~GptModel() = default;

void GptModel::fill_buffer(vk::CommandStream& stream, const vk::BufferSlice& buffer, int64_t floats, float value) {
  // Bound in chunks: a whole gradient buffer can exceed one storage-buffer binding.
  const int64_t chunk = std::min<int64_t>(context_.info().max_storage_buffer_range, int64_t(1) << 30) / 4 /
                        kParameterAlignment * kParameterAlignment;
  for (int64_t start = 0; start < floats; start += chunk) {
    const int64_t n = std::min(chunk, floats - start);
    ops::fill(stream, Tensor{{n}, DType::f32, buffer.sub(start * 4, n * 4)}, value);
  }
}

Tensor GptModel::parameter(int index) const { return parameter_view(layout_, params_, index); }
Tensor GptModel::gradient(int index) const { return parameter_view(layout_, grads_, index); }

void GptModel::set_parameters(std::span<const float> values) {
  if (static_cast<int64_t>(values.size()) != layout_.total_floats)
    fail("set_parameters: {} floats, the layout has {}", values.size(), layout_.total_floats);
  arena_.upload(params_, values.data(), values.size_bytes());
}

std::vector<float> GptModel::download_buffer(const vk::BufferSlice& buffer) {
  std::vector<float> values(layout_.total_floats);
  arena_.download(buffer, values.data(), values.size() * 4);
  return values;
}

std::vector<float> GptModel::parameters() { return download_buffer(params_); }

std::vector<float> GptModel::gradients() { return download_buffer(grads_); }

std::vector<float> GptModel::adam_m() { return download_buffer(adam_m_); }

std::vector<float> GptModel::adam_v() { return download_buffer(adam_v_); }

void GptModel::set_optimizer_state(std::span<const float> m, std::span<const float> v) {
  if (static_cast<int64_t>(m.size()) != layout_.total_floats || static_cast<int64_t>(v.size()) != layout_.total_floats)
    fail("set_optimizer_state: {} and {} floats, the layout has {}", m.size(), v.size(), layout_.total_floats);
  arena_.upload(adam_m_, m.data(), m.size_bytes());
  arena_.upload(adam_v_, v.data(), v.size_bytes());
}

void GptModel::set_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets) {
  const size_t n = size_t(B_) * T_;
  if (tokens.size() != n || targets.size() != n)
    fail("set_batch: {} tokens and {} targets, the model was sized for {}x{}", tokens.size(), targets.size(), B_, T_);
  valid_targets_ = 0;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size)
      fail("set_batch: token {} at position {} is outside the vocabulary of {}", tokens[i], i, config_.vocab_size);
    if (targets[i] < -1 || targets[i] >= config_.vocab_size)
      fail("set_batch: target {} at position {} is outside the vocabulary of {}", targets[i], i, config_.vocab_size);
    valid_targets_ += targets[i] >= 0;
  }
  upload(arena_, acts_->tokens, tokens);
  upload(arena_, acts_->targets, targets);
}

void GptModel::forward(vk::CommandStream& stream, bool with_loss, float dloss_scale) {
  auto& a = *acts_;
  const auto& P = layout_;
  const auto wpe = optional_view(P, params_, P.wpe);
  ops::embedding_forward(stream, a.tokens, parameter(P.wte), ptr(wpe), a.encoded, max_binding_bytes_);
  BlockPass pass;
  pass.T = T_;
  pass.rope_table = config_.pos == Positions::rope ? &a.rope_table : nullptr;
  for (int l = 0; l < config_.n_layer; ++l) {
    auto& x = a.layers[l];
    x.attention_qkv = x.qkv;
    block_forward(stream, config_, block_weights(P, l, params_), l == 0 ? a.encoded : a.layers[l - 1].residual3, x,
                  pass);
  }
  head_forward(stream, config_, P, params_, a.layers.back().residual3, a.lnf, a.lnf_mean, a.lnf_rstd, a.logits,
               max_binding_bytes_);
  if (!with_loss) return;
  if (valid_targets_ == 0) fail("forward: every target of the batch is ignored (-1); there is no loss to compute");
  ops::softmax_cross_entropy(stream, a.logits, a.targets, a.losses, a.logits,
                             dloss_scale != 0 ? dloss_scale : 1.0f / valid_targets_, max_binding_bytes_,
                             config_.logit_softcap);
  ops::reduce_sum(stream, a.losses, a.partials, a.loss_sum);
}

void GptModel::zero_grad(vk::CommandStream& stream) { fill_buffer(stream, grads_, layout_.total_floats, 0.0f); }

void GptModel::backward(vk::CommandStream& stream) {
  auto& a = *acts_;
  const auto& P = layout_;
  const int NH = config_.n_head;
  const int64_t N = int64_t(B_) * T_;
  const auto norm = norm_kind(config_);
  auto grad = [&](int index) { return gradient(index); };
  auto bias_grad = [&](const Tensor& dy, const Tensor& db) { ops::bias_grad(stream, dy, db); };
  auto rows = [&](Tensor t, int64_t cols) {  // (B,T,X) as (N,X)
    t.shape = {N, cols};
    return t;
  };
  const int64_t C = config_.n_embd, Q = a.dqkv.cols(), H = config_.mlp_hidden(), F = a.dfch.cols();
  const Tensor& dact = config_.mlp == Mlp::swiglu ? a.dfch_act : a.dfch;  // d(fch_act) (B,T,H)

  // the fused loss left d(loss)/d(logits) in the logits buffer (through the soft cap): dlnf into
  // dln, dhead +=
  lm_head_backward(stream, a.lnf, a.dln, parameter(P.lm_head), grad(P.lm_head), a.logits, max_binding_bytes_);
  ops::fill(stream, a.dresidual, 0.0f);
  {
    const auto w = optional_view(P, params_, P.lnf_w);
    const auto dw = optional_view(P, grads_, P.lnf_w), db = optional_view(P, grads_, P.lnf_b);
    ops::norm_backward(stream, norm, a.dln, a.layers.back().residual3, ptr(w), a.lnf_mean, a.lnf_rstd, a.dresidual,
                       ptr(dw), ptr(db));
  }
  for (int l = config_.n_layer - 1; l >= 0; --l) {
    const auto w = block_weights(P, l, params_), g = block_weights(P, l, grads_);
    auto& x = a.layers[l];
    const Tensor& residual = l == 0 ? a.encoded : a.layers[l - 1].residual3;
    // dresidual = d(residual3) = d(fcproj) = d(residual2) so far
    ops::matmul(stream, a.dresidual, w.fc_proj_w, dact, Layout::NN);                         // (B,T,H)
    ops::matmul(stream, rows(a.dresidual, C), rows(x.fch_act, H), g.fc_proj_w, Layout::TN, nullptr, true);
    bias_grad(rows(a.dresidual, C), g.fc_proj_b);
    mlp_activation_backward(stream, config_, x.fch, dact, a.dfch);                           // (B,T,F)
    ops::matmul(stream, a.dfch, w.fc_w, a.dln, Layout::NN);                                  // (B,T,C)
    ops::matmul(stream, rows(a.dfch, F), rows(x.ln2, C), g.fc_w, Layout::TN, nullptr, true);
    bias_grad(rows(a.dfch, F), g.fc_b);
    ops::norm_backward(stream, norm, a.dln, x.residual2, ptr(w.ln2_w), x.ln2_mean, x.ln2_rstd, a.dresidual,
                       ptr(g.ln2_w), ptr(g.ln2_b));
    // dresidual = d(residual2) = d(attproj) = d(residual) so far
    ops::matmul(stream, a.dresidual, w.attn_proj_w, a.dln, Layout::NN);                      // datty (B,T,C)
    ops::matmul(stream, rows(a.dresidual, C), rows(x.atty, C), g.attn_proj_w, Layout::TN, nullptr, true);
    bias_grad(rows(a.dresidual, C), g.attn_proj_b);
    ops::attention_backward(stream, a.dln, x.qkv, x.atty, x.lse, a.dqkv, NH, config_.kv_heads());  // (B,T,Q)
    if (transforms_qk(config_))  // d(qkv) -> d(qkv_raw), in place
      ops::qk_transform_backward(stream, qk_transform(config_), a.dqkv, x.qkv_raw, x.qk_rstd,
                                 a.rope_table, a.dqkv, T_);
    ops::matmul(stream, a.dqkv, w.qkv_w, a.dln, Layout::NN);                                 // dln1 (B,T,C)
    ops::matmul(stream, rows(a.dqkv, Q), rows(x.ln1, C), g.qkv_w, Layout::TN, nullptr, true);
    bias_grad(rows(a.dqkv, Q), g.qkv_b);
    ops::norm_backward(stream, norm, a.dln, residual, ptr(w.ln1_w), x.ln1_mean, x.ln1_rstd, a.dresidual,
                       ptr(g.ln1_w), ptr(g.ln1_b));
  }
  const auto dwpe = optional_view(P, grads_, P.wpe);
  ops::embedding_backward(stream, a.tokens, a.dresidual, grad(P.wte), ptr(dwpe), max_binding_bytes_);
}

void GptModel::optimizer_step(vk::CommandStream& stream, const ops::AdamWConfig& config) {
  auto& a = *acts_;
  auto range = [](const vk::BufferSlice& buffer, int64_t begin, int64_t end) {
    return Tensor{{end - begin}, DType::f32, buffer.sub(begin * 4, (end - begin) * 4)};
  };
  const int64_t all = layout_.total_floats, decay = layout_.decay_floats;
  ops::grad_norm_squared(stream, range(grads_, 0, all), a.partials, a.norm_sq);
  ops::AdamWConfig decayed = config, plain = config;
  plain.weight_decay = 0.0f;
  ops::adamw_update(stream, range(params_, 0, decay), range(grads_, 0, decay), range(adam_m_, 0, decay),
                    range(adam_v_, 0, decay), a.norm_sq, decayed);
  ops::adamw_update(stream, range(params_, decay, all), range(grads_, decay, all), range(adam_m_, decay, all),
                    range(adam_v_, decay, all), a.norm_sq, plain);
}

float GptModel::read_loss() { return download(arena_, acts_->loss_sum)[0] / static_cast<float>(valid_targets_); }

float GptModel::read_grad_norm() { return std::sqrt(download(arena_, acts_->norm_sq)[0]); }

std::vector<float> GptModel::read_logits() { return download(arena_, acts_->logits); }

StepResult GptModel::train_step(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                                const ops::AdamWConfig& config, int micro_batches) {
  const size_t n = size_t(B_) * T_;
  if (micro_batches < 1 || tokens.size() != n * micro_batches || targets.size() != n * micro_batches)
    fail("train_step: {} tokens and {} targets for {} micro-batches of {}x{}", tokens.size(), targets.size(),
         micro_batches, B_, T_);
  double loss = 0;
  for (int k = 0; k < micro_batches; ++k) {
    set_batch(tokens.subspan(k * n, n), targets.subspan(k * n, n));  // after the previous submit's fence
    vk::CommandStream stream(context_);
    if (k == 0) zero_grad(stream);
    forward(stream, true, valid_targets_ ? 1.0f / (static_cast<float>(valid_targets_) * micro_batches) : 0.0f);
    backward(stream);
    if (k + 1 == micro_batches) optimizer_step(stream, config);
    stream.submit();
    loss += read_loss();
  }
  return {static_cast<float>(loss / micro_batches), read_grad_norm()};
}

}  // namespace alpha::gpt
