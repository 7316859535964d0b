// GPT forward, backward and optimizer step as kernel calls (see model.h). The per-layer code reads
// top to bottom in model order, llm.c style; shapes in the comments use B, T, C, NH, V, N = B·T.
#include "engine/gpt/model.h"

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "engine/gpt/block.h"
#include "engine/gpt/lm_head.h"
#include "engine/ops/attention.h"
#include "engine/ops/bias_grad.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/embedding.h"
#include "engine/ops/gelu.h"
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
  Tensor batch;  // i32 words, uploaded at once: the per-step scalars below, tokens, targets
  Tensor tokens, targets, dloss_scale, adamw_decayed, adamw_plain;  // views of batch
  Tensor encoded;
  std::vector<BlockTensors> layers;
  Tensor lnf, lnf_mean, lnf_rstd;
  Tensor logits;  // holds dlogits after the fused loss
  Tensor losses;
  Tensor dresidual, dln, dqkv, dfch;   // backward scratch, reused by every layer
  Tensor dfch_act;                     // (B, T, H) d(fch_act), swiglu only (else dfch, in place)
  // Forward scratch, one tensor for every layer: the projections before their residual add (the
  // backward needs only the sum); with fp16, the f32 norm outputs and MLP activations (the f16
  // copies are saved instead).
  Tensor proj, ln_f32, fch_act_f32;
  Tensor lnf_h;                        // fp16: lnf rounded, the LM head's input
  Tensor partials, loss_sum, norm_sq;  // reductions
  Tensor rope_table;                   // (seq_len, head_size/2, 2) cos and sin, when pos = rope
};

namespace {

constexpr int64_t kPartials = std::max<int64_t>(ops::kReduceGroups, ops::kNormPartials);

// The batch buffer, in 4-byte words; each part starts 256 bytes apart (any device's binding offset
// alignment): [0] the loss scale (f32), the decayed and the plain parameters' AdamW step scalars,
// then tokens and targets (i32, B·T each).
constexpr int64_t kPartWords = 64;
constexpr int64_t kScaleAt = 0, kAdamWDecayedAt = kPartWords, kAdamWPlainAt = 2 * kPartWords;
constexpr int64_t kTokensAt = 3 * kPartWords;
int64_t round_up_part(int64_t words) {
  return (words + kPartWords - 1) / kPartWords * kPartWords;
}
int64_t targets_at(int64_t B, int64_t T) {
  return kTokensAt + round_up_part(B * T);
}
int64_t batch_words(int64_t B, int64_t T) {
  return targets_at(B, T) + round_up_part(B * T);
}

// The views of the batch buffer (allocated as a.batch).
void carve_batch(GptModel::Activations& a, int64_t B, int64_t T) {
  const auto words = [&](int64_t at, int64_t n) { return a.batch.slice.sub(at * 4, n * 4); };
  a.dloss_scale = Tensor{{1}, DType::f32, words(kScaleAt, 1)};
  a.adamw_decayed =
      Tensor{{ops::kAdamWStepFloats}, DType::f32, words(kAdamWDecayedAt, ops::kAdamWStepFloats)};
  a.adamw_plain =
      Tensor{{ops::kAdamWStepFloats}, DType::f32, words(kAdamWPlainAt, ops::kAdamWStepFloats)};
  a.tokens = Tensor{{B, T}, DType::i32, words(kTokensAt, B * T)};
  a.targets = Tensor{{B, T}, DType::i32, words(targets_at(B, T), B * T)};
}

// What keeps an activation alive: the forward's outputs that the backward reads (and the batch and
// the logits), scratch that one pass reuses across layers, or a constant uploaded once.
enum class Lifetime { saved, scratch, constant };

// The one list of activations, in allocation order: visit(tensor, shape, dtype, lifetime) for each.
// The Activations struct declares them, the constructor allocates through this, plan_memory sums
// through it; a new activation is one line here (and its member). Tensors an architecture does not
// use are not visited (and stay empty).
template <class Visit>
void for_each_activation(GptModel::Activations& a, const GptConfig& c, int64_t B, int64_t T,
                         Precision precision, Visit&& visit) {
  const int64_t C = c.n_embd, NH = c.n_head, V = c.vocab_size, N = B * T;
  const int64_t Q = (c.n_head + 2 * c.kv_heads()) * c.head_size();
  const int64_t H = c.mlp_hidden(), F = c.mlp_fc_width();  // the MLP's hidden and c_fc widths
  const auto f32 = DType::f32, f16 = DType::f16;
  const bool half = precision == Precision::fp16;
  const auto saved = Lifetime::saved, scratch = Lifetime::scratch;
  visit(a.batch, {batch_words(B, T)}, DType::i32, saved);
  visit(a.encoded, {B, T, C}, f32, saved);
  // the layers' shared forward scratch is allocated first, then handed to each layer
  visit(a.proj, {B, T, C}, f32, scratch);
  if (half) visit(a.ln_f32, {B, T, C}, f32, scratch);
  if (half) visit(a.fch_act_f32, {B, T, H}, f32, scratch);
  a.layers.resize(c.n_layer);
  for (auto& l : a.layers) {
    l.attproj = l.fcproj = a.proj;
    if (half) l.ln1 = l.ln2 = a.ln_f32, l.fch_act = a.fch_act_f32;
    if (half)
      visit(l.ln1_h, {B, T, C}, f16, saved);
    else
      visit(l.ln1, {B, T, C}, f32, saved);
    visit(l.ln1_mean, {N}, f32, saved);
    visit(l.ln1_rstd, {N}, f32, saved);
    if (transforms_qk(c)) visit(l.qkv_raw, {B, T, Q}, f32, saved);
    if (c.qk_norm) visit(l.qk_rstd, {N, c.n_head + c.kv_heads()}, f32, saved);
    visit(l.qkv, {B, T, Q}, f32, saved);
    visit(l.atty, {B, T, C}, f32, saved);
    if (half) visit(l.atty_h, {B, T, C}, f16, saved);
    visit(l.lse, {B, NH, T}, f32, saved);
    visit(l.residual2, {B, T, C}, f32, saved);
    if (half)
      visit(l.ln2_h, {B, T, C}, f16, saved);
    else
      visit(l.ln2, {B, T, C}, f32, saved);
    visit(l.ln2_mean, {N}, f32, saved);
    visit(l.ln2_rstd, {N}, f32, saved);
    visit(l.fch, {B, T, F}, f32, saved);
    if (half)
      visit(l.fch_act_h, {B, T, H}, f16, saved);
    else
      visit(l.fch_act, {B, T, H}, f32, saved);
    visit(l.residual3, {B, T, C}, f32, saved);
  }
  visit(a.lnf, {B, T, C}, f32, saved);
  if (half) visit(a.lnf_h, {B, T, C}, f16, saved);
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
uint64_t activation_bytes(const GptConfig& c, int64_t B, int64_t T, Precision precision,
                          Lifetime which) {
  GptModel::Activations a;
  uint64_t total = 0;
  for_each_activation(a, c, B, T, precision,
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

std::vector<MemoryGroup> GptModel::plan_memory(const GptConfig& config, int B, int T,
                                               Precision precision) {
  const ParameterLayout layout(config);
  const uint64_t param_bytes = layout.total_floats * 4;
  std::vector<MemoryGroup> groups = {{"parameters", param_bytes},
                                     {"gradients", param_bytes},
                                     {"adamw m", param_bytes},
                                     {"adamw v", param_bytes}};
  if (precision == Precision::fp16)
    groups.push_back({"weights f16", uint64_t(layout.decay_floats) * 2});
  groups.push_back(
      {"activations", activation_bytes(config, B, T, precision, Lifetime::saved) +
                          activation_bytes(config, B, T, precision, Lifetime::constant)});
  groups.push_back({"scratch", activation_bytes(config, B, T, precision, Lifetime::scratch)});
  return groups;
}

std::vector<MemoryGroup> GptModel::memory() const {
  return plan_memory(config_, B_, T_, precision_);
}

static void check_fits(vk::Context& context, const GptConfig& config, int B, int T,
                       Precision precision) {
  config.validate();
  if (B <= 0) fail("batch size {} must be positive", B);
  if (T <= 0 || T > config.seq_len)
    fail("sequence length {} must be between 1 and the model's seq_len {}", T, config.seq_len);
  if (precision == Precision::fp16 && !context.fp16_enabled())
    fail("fp16 training needs 16-bit storage, which {} lacks: use fp32", context.info().name);
  // the weights' f16 copy is bound at the f32 layout's element offsets (multiples of 64 halfs)
  if (precision == Precision::fp16 &&
      context.info().min_storage_buffer_offset_alignment > kParameterAlignment * 2)
    fail("{} aligns storage-buffer bindings to {} bytes; the f16 weights need at most {}: use fp32",
         context.info().name, context.info().min_storage_buffer_offset_alignment,
         kParameterAlignment * 2);
  uint64_t total = 0;
  for (const auto& group : GptModel::plan_memory(config, B, T, precision)) total += group.bytes;
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

GptModel::GptModel(vk::Context& context, const GptConfig& config, int B, int T,
                   uint64_t max_binding_bytes, Precision precision)
    : context_(context),
      config_((check_fits(context, config, B, T, precision), config)),
      layout_(config),
      B_(B),
      T_(T),
      max_binding_bytes_(max_binding_bytes),
      arena_(context),
      acts_(std::make_unique<Activations>()),
      precision_(precision),
      loss_scaler_(precision == Precision::fp16),
      replay_(!context.switches().disable_replay) {
  const int64_t bytes = layout_.total_floats * 4;
  params_ = arena_.allocate(bytes);
  grads_ = arena_.allocate(bytes);
  adam_m_ = arena_.allocate(bytes);
  adam_v_ = arena_.allocate(bytes);
  if (precision_ == Precision::fp16) params_f16_ = arena_.allocate(layout_.decay_floats * 2);

  for_each_activation(*acts_, config_, B, T, precision_,
                      [&](Tensor& t, std::vector<int64_t> shape, DType dtype, Lifetime) {
                        t = Tensor::empty(arena_, shape, dtype);
                      });
  carve_batch(*acts_, B, T);
  batch_host_.assign(batch_words(B, T), 0);

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
  if (precision_ != Precision::fp16) return;
  // the f16 copy of the decayed range, in chunks that fit a binding
  vk::CommandStream stream(context_);
  const int64_t chunk =
      std::min<int64_t>(context_.info().max_storage_buffer_range, int64_t(1) << 30) / 4 /
      kParameterAlignment * kParameterAlignment;
  for (int64_t start = 0; start < layout_.decay_floats; start += chunk) {
    const int64_t n = std::min(chunk, layout_.decay_floats - start);
    ops::cast_to_f16(stream, Tensor{{n}, DType::f32, params_.sub(start * 4, n * 4)},
                     Tensor{{n}, DType::f16, params_f16_.sub(start * 2, n * 2)});
  }
  stream.submit();
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

void GptModel::stage_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                           float dloss_scale) {
  const size_t n = size_t(B_) * T_;
  if (tokens.size() != n || targets.size() != n)
    fail("set_batch: {} tokens and {} targets, the model was sized for {}x{}", tokens.size(), targets.size(), B_, T_);
  int64_t valid = 0;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= config_.vocab_size)
      fail("set_batch: token {} at position {} is outside the vocabulary of {}", tokens[i], i, config_.vocab_size);
    if (targets[i] < -1 || targets[i] >= config_.vocab_size)
      fail("set_batch: target {} at position {} is outside the vocabulary of {}", targets[i], i, config_.vocab_size);
    valid += targets[i] >= 0;
  }
  valid_targets_ = valid;
  const float scale = dloss_scale != 0 ? dloss_scale
                      : valid          ? 1.0f / static_cast<float>(valid)
                                       : 0.0f;
  std::memcpy(&batch_host_[kScaleAt], &scale, 4);
  std::copy(tokens.begin(), tokens.end(), batch_host_.begin() + kTokensAt);
  std::copy(targets.begin(), targets.end(), batch_host_.begin() + targets_at(B_, T_));
}

void GptModel::stage_optimizer_scalars(const ops::AdamWConfig& config) {
  ops::AdamWConfig plain = config;
  plain.weight_decay = 0.0f;
  const auto decayed_scalars = ops::adamw_step_scalars(config),
             plain_scalars = ops::adamw_step_scalars(plain);
  std::memcpy(&batch_host_[kAdamWDecayedAt], &decayed_scalars, sizeof decayed_scalars);
  std::memcpy(&batch_host_[kAdamWPlainAt], &plain_scalars, sizeof plain_scalars);
}

void GptModel::upload_batch() {
  arena_.upload(acts_->batch.slice, batch_host_.data(), batch_host_.size() * sizeof(int32_t));
}

void GptModel::set_batch(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                         float dloss_scale) {
  stage_batch(tokens, targets, dloss_scale);
  upload_batch();
}

void GptModel::forward(vk::CommandStream& stream, bool with_loss) {
  auto& a = *acts_;
  const auto& P = layout_;
  const auto wpe = optional_view(P, params_, P.wpe);
  ops::embedding_forward(stream, a.tokens, parameter(P.wte), ptr(wpe), a.encoded, max_binding_bytes_);
  BlockPass pass;
  pass.T = T_;
  pass.rope_table = config_.pos == Positions::rope ? &a.rope_table : nullptr;
  const bool half = precision_ == Precision::fp16;
  for (int l = 0; l < config_.n_layer; ++l) {
    auto& x = a.layers[l];
    x.attention_qkv = x.qkv;
    const BlockWeights half_weights =
        half ? half_block_weights(P, l, params_, params_f16_) : BlockWeights{};
    pass.half_weights = half ? &half_weights : nullptr;
    block_forward(stream, config_, block_weights(P, l, params_), l == 0 ? a.encoded : a.layers[l - 1].residual3, x,
                  pass);
  }
  const HeadHalf head_half{half ? half_parameter_view(P, params_f16_, P.lm_head) : Tensor{},
                           a.lnf_h};
  head_forward(stream, config_, P, params_, a.layers.back().residual3, a.lnf, a.lnf_mean,
               a.lnf_rstd, a.logits, max_binding_bytes_, half ? &head_half : nullptr);
  if (!with_loss) return;
  if (valid_targets_ == 0) fail("forward: every target of the batch is ignored (-1); there is no loss to compute");
  ops::softmax_cross_entropy(stream, a.logits, a.targets, a.losses, a.logits, a.dloss_scale,
                             max_binding_bytes_, config_.logit_softcap);
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
  // Mixed precision: the matmuls read the weights' f16 copy and the linear layers' inputs as the
  // forward saved them, in f16; the gradients stay f32.
  const bool half = precision_ == Precision::fp16;
  auto saved = [&](const Tensor& f32, const Tensor& f16) -> const Tensor& {
    return half ? f16 : f32;
  };

  // the fused loss left d(loss)/d(logits) in the logits buffer (through the soft cap): dlnf into
  // dln, dhead +=
  lm_head_backward(stream, saved(a.lnf, a.lnf_h), a.dln,
                   half ? half_parameter_view(P, params_f16_, P.lm_head) : parameter(P.lm_head),
                   grad(P.lm_head), a.logits, max_binding_bytes_);
  ops::fill(stream, a.dresidual, 0.0f);
  {
    const auto w = optional_view(P, params_, P.lnf_w);
    const auto dw = optional_view(P, grads_, P.lnf_w), db = optional_view(P, grads_, P.lnf_b);
    ops::norm_backward(stream, norm, a.dln, a.layers.back().residual3, ptr(w), a.lnf_mean, a.lnf_rstd, a.dresidual,
                       ptr(dw), ptr(db));
  }
  for (int l = config_.n_layer - 1; l >= 0; --l) {
    const auto w = block_weights(P, l, params_), g = block_weights(P, l, grads_);
    const auto m =
        half ? half_block_weights(P, l, params_, params_f16_) : w;  // the matmuls' weights
    auto& x = a.layers[l];
    const Tensor& residual = l == 0 ? a.encoded : a.layers[l - 1].residual3;
    // dresidual = d(residual3) = d(fcproj) = d(residual2) so far
    ops::matmul(stream, a.dresidual, m.fc_proj_w, dact, Layout::NN);  // (B,T,H)
    ops::matmul(stream, rows(a.dresidual, C), rows(saved(x.fch_act, x.fch_act_h), H), g.fc_proj_w,
                Layout::TN, nullptr, true);
    bias_grad(rows(a.dresidual, C), g.fc_proj_b);
    mlp_activation_backward(stream, config_, x.fch, dact, a.dfch);                           // (B,T,F)
    ops::matmul(stream, a.dfch, m.fc_w, a.dln, Layout::NN);  // (B,T,C)
    ops::matmul(stream, rows(a.dfch, F), rows(saved(x.ln2, x.ln2_h), C), g.fc_w, Layout::TN,
                nullptr, true);
    bias_grad(rows(a.dfch, F), g.fc_b);
    ops::norm_backward(stream, norm, a.dln, x.residual2, ptr(w.ln2_w), x.ln2_mean, x.ln2_rstd, a.dresidual,
                       ptr(g.ln2_w), ptr(g.ln2_b));
    // dresidual = d(residual2) = d(attproj) = d(residual) so far
    ops::matmul(stream, a.dresidual, m.attn_proj_w, a.dln, Layout::NN);  // datty (B,T,C)
    ops::matmul(stream, rows(a.dresidual, C), rows(saved(x.atty, x.atty_h), C), g.attn_proj_w,
                Layout::TN, nullptr, true);
    bias_grad(rows(a.dresidual, C), g.attn_proj_b);
    ops::attention_backward(stream, a.dln, x.qkv, x.atty, x.lse, a.dqkv, NH, config_.kv_heads());  // (B,T,Q)
    if (transforms_qk(config_))  // d(qkv) -> d(qkv_raw), in place
      ops::qk_transform_backward(stream, qk_transform(config_), a.dqkv, x.qkv_raw, x.qk_rstd,
                                 a.rope_table, a.dqkv, T_);
    ops::matmul(stream, a.dqkv, m.qkv_w, a.dln, Layout::NN);  // dln1 (B,T,C)
    ops::matmul(stream, rows(a.dqkv, Q), rows(saved(x.ln1, x.ln1_h), C), g.qkv_w, Layout::TN,
                nullptr, true);
    bias_grad(rows(a.dqkv, Q), g.qkv_b);
    ops::norm_backward(stream, norm, a.dln, residual, ptr(w.ln1_w), x.ln1_mean, x.ln1_rstd, a.dresidual,
                       ptr(g.ln1_w), ptr(g.ln1_b));
  }
  const auto dwpe = optional_view(P, grads_, P.wpe);
  ops::embedding_backward(stream, a.tokens, a.dresidual, grad(P.wte), ptr(dwpe), max_binding_bytes_);
}

void GptModel::optimizer_step(vk::CommandStream& stream, const ops::AdamWConfig& config) {
  stage_optimizer_scalars(config);
  arena_.upload(acts_->batch.slice.sub(0, kTokensAt * 4), batch_host_.data(), kTokensAt * 4);
  record_optimizer_step(stream, config);
}

void GptModel::record_optimizer_step(vk::CommandStream& stream, const ops::AdamWConfig& config) {
  auto& a = *acts_;
  auto range = [](const vk::BufferSlice& buffer, int64_t begin, int64_t end) {
    return Tensor{{end - begin}, DType::f32, buffer.sub(begin * 4, (end - begin) * 4)};
  };
  const int64_t all = layout_.total_floats, decay = layout_.decay_floats;
  ops::grad_norm_squared(stream, range(grads_, 0, all), a.partials, a.norm_sq);
  // the decayed range (embeddings and matrices) also refreshes the weights' f16 copy (fp16)
  std::optional<Tensor> copy;
  if (precision_ == Precision::fp16)
    copy = Tensor{{decay}, DType::f16, params_f16_.sub(0, decay * 2)};
  ops::adamw_update(stream, range(params_, 0, decay), range(grads_, 0, decay),
                    range(adam_m_, 0, decay), range(adam_v_, 0, decay), a.norm_sq, a.adamw_decayed,
                    config, 0, ptr(copy));
  ops::adamw_update(stream, range(params_, decay, all), range(grads_, decay, all),
                    range(adam_m_, decay, all), range(adam_v_, decay, all), a.norm_sq,
                    a.adamw_plain, config);
}

float GptModel::read_loss() { return download(arena_, acts_->loss_sum)[0] / static_cast<float>(valid_targets_); }

float GptModel::read_grad_norm() { return std::sqrt(download(arena_, acts_->norm_sq)[0]); }

std::vector<float> GptModel::read_logits() { return download(arena_, acts_->logits); }

void GptModel::set_replay(bool on) {
  replay_ = on;
  for (auto& row : recorded_)
    for (auto& stream : row) stream.reset();
}

// CPU time of the calling thread (waits on the device do not count).
static double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// The AdamW constants a recorded stream bakes into its push constants; the rest of the config
// arrives through the batch buffer every step.
static bool same_adamw_constants(const ops::AdamWConfig& a, const ops::AdamWConfig& b) {
  return a.beta1 == b.beta1 && a.beta2 == b.beta2 && a.eps == b.eps && a.max_norm == b.max_norm;
}

vk::CommandStream& GptModel::recorded_step(bool first, bool last, const ops::AdamWConfig& config) {
  auto& slot = recorded_[first][last];
  if (slot && last && !same_adamw_constants(config, recorded_config_)) {
    for (auto& row : recorded_) row[1].reset();  // the streams that baked the old constants
  }
  if (!slot) {
    slot = std::make_unique<vk::CommandStream>(context_);
    if (first) zero_grad(*slot);
    forward(*slot, true);
    backward(*slot);
    if (last) {
      record_optimizer_step(*slot, config);
      recorded_config_ = config;
    }
  }
  return *slot;
}

void GptModel::begin_step(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                          const ops::AdamWConfig& config, int micro_batches) {
  const size_t n = size_t(B_) * T_;
  if (micro_batches < 1 || tokens.size() != n * micro_batches || targets.size() != n * micro_batches)
    fail("train_step: {} tokens and {} targets for {} micro-batches of {}x{}", tokens.size(), targets.size(),
         micro_batches, B_, T_);
  if (in_flight_) fail("begin_step: the previous step was not ended (end_step)");
  const double cpu_start = thread_cpu_ms();
  step_loss_ = 0;
  step_micro_batches_ = micro_batches;
  // fp16: the loss, so every gradient, is scaled by S; the optimizer divides it out
  step_loss_scale_ = loss_scaler_.scale();
  ops::AdamWConfig scaled_config = config;
  scaled_config.loss_scale = step_loss_scale_;
  for (int k = 0; k < micro_batches; ++k) {
    const bool first = k == 0, last = k + 1 == micro_batches;
    // the batch's own mean loss, averaged over the micro-batches
    stage_batch(tokens.subspan(k * n, n), targets.subspan(k * n, n), 0);
    if (valid_targets_ == 0)
      fail("train_step: every target of micro-batch {} is ignored (-1); there is no loss", k);
    const float scale = step_loss_scale_ / (static_cast<float>(valid_targets_) * micro_batches);
    std::memcpy(&batch_host_[kScaleAt], &scale, 4);
    if (last) stage_optimizer_scalars(scaled_config);
    if (k > 0) {  // the previous micro-batch reads the batch buffer until it ends
      in_flight_->wait();
      step_loss_ += read_loss();
    }
    upload_batch();
    if (replay_) {
      in_flight_ = &recorded_step(first, last, config);
    } else {
      once_ = std::make_unique<vk::CommandStream>(context_);
      in_flight_ = once_.get();
      if (first) zero_grad(*in_flight_);
      forward(*in_flight_, true);
      backward(*in_flight_);
      if (last) record_optimizer_step(*in_flight_, config);
    }
    in_flight_->submit_async();
  }
  last_host_ms_ = thread_cpu_ms() - cpu_start;
}

StepResult GptModel::end_step() {
  if (!in_flight_) fail("end_step: no step was begun");
  const double cpu_start = thread_cpu_ms();
  in_flight_->wait();
  in_flight_ = nullptr;
  step_loss_ += read_loss();
  // the device skipped the update if the (scaled) gradients were not finite; the scale follows
  const StepResult result{static_cast<float>(step_loss_ / step_micro_batches_),
                          read_grad_norm() / step_loss_scale_};
  loss_scaler_.update(std::isfinite(result.grad_norm));
  last_host_ms_ += thread_cpu_ms() - cpu_start;
  return result;
}

StepResult GptModel::train_step(std::span<const int32_t> tokens, std::span<const int32_t> targets,
                                const ops::AdamWConfig& config, int micro_batches) {
  begin_step(tokens, targets, config, micro_batches);
  return end_step();
}

}  // namespace alpha::gpt
