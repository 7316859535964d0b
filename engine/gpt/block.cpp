// The transformer block's forward and the head, for training and decoding (see block.h). Reads top
// to bottom in model order: norm, q/k/v, (QK-norm, rotary), attention, projection + residual, norm,
// MLP, projection + residual.
#include "engine/gpt/block.h"

#include <algorithm>

#include "common/error.h"
#include "engine/gpt/lm_head.h"
#include "engine/ops/attention.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/swiglu.h"

namespace alpha::gpt {

using ops::Layout;

Tensor parameter_view(const ParameterLayout& layout, const vk::BufferSlice& buffer, int index) {
  const auto& p = layout.params.at(index);
  return Tensor{p.shape, DType::f32, buffer.sub(p.offset * 4, p.numel * 4)};
}

std::optional<Tensor> optional_view(const ParameterLayout& layout, const vk::BufferSlice& buffer,
                                    int index) {
  if (index == kAbsent) return std::nullopt;
  return parameter_view(layout, buffer, index);
}

Tensor row_range(const Tensor& t, int64_t begin, int64_t rows, int64_t cols) {
  return Tensor{{1, rows, cols}, DType::f32, t.slice.sub(begin * cols * 4, rows * cols * 4)};
}

BlockWeights block_weights(const ParameterLayout& layout, int layer,
                           const vk::BufferSlice& buffer) {
  const auto& b = layout.blocks.at(layer);
  auto view = [&](int index) { return parameter_view(layout, buffer, index); };
  auto optional = [&](int index) { return optional_view(layout, buffer, index); };
  return {optional(b.ln1_w), optional(b.ln1_b), optional(b.ln2_w),   optional(b.ln2_b),
          view(b.qkv_w),     view(b.qkv_b),     view(b.attn_proj_w), view(b.attn_proj_b),
          view(b.fc_w),      view(b.fc_b),      view(b.fc_proj_w),   view(b.fc_proj_b)};
}

Tensor half_parameter_view(const ParameterLayout& layout, const vk::BufferSlice& params_f16,
                           int index) {
  const auto& p = layout.params.at(index);
  if (!p.decay) fail("parameter {} has no f16 copy (only embeddings and matrices do)", p.name);
  return Tensor{p.shape, DType::f16, params_f16.sub(p.offset * 2, p.numel * 2)};
}

BlockWeights half_block_weights(const ParameterLayout& layout, int layer,
                                const vk::BufferSlice& params, const vk::BufferSlice& params_f16) {
  BlockWeights w = block_weights(layout, layer, params);
  const auto& b = layout.blocks.at(layer);
  w.qkv_w = half_parameter_view(layout, params_f16, b.qkv_w);
  w.attn_proj_w = half_parameter_view(layout, params_f16, b.attn_proj_w);
  w.fc_w = half_parameter_view(layout, params_f16, b.fc_w);
  w.fc_proj_w = half_parameter_view(layout, params_f16, b.fc_proj_w);
  return w;
}

ops::NormKind norm_kind(const GptConfig& config) {
  return config.norm == Norm::rmsnorm ? ops::NormKind::rmsnorm : ops::NormKind::layernorm;
}

ops::Activation mlp_activation(const GptConfig& config) {
  return config.mlp == Mlp::relu2 ? ops::Activation::relu2 : ops::Activation::gelu;
}

ops::QkTransform qk_transform(const GptConfig& config) {
  ops::QkTransform t;
  t.n_head = config.n_head;
  t.n_kv_head = config.kv_heads();
  t.head_size = config.head_size();
  t.qk_norm = config.qk_norm;
  t.rope = config.pos == Positions::rope;
  return t;
}

bool transforms_qk(const GptConfig& config) {
  return config.qk_norm || config.pos == Positions::rope;
}

void mlp_activation_forward(vk::CommandStream& stream, const GptConfig& config, const Tensor& fch,
                            const Tensor& fch_act) {
  if (config.mlp == Mlp::swiglu)
    ops::swiglu_forward(stream, fch, fch_act);
  else
    ops::activation_forward(stream, mlp_activation(config), fch, fch_act);
}

void mlp_activation_backward(vk::CommandStream& stream, const GptConfig& config, const Tensor& fch,
                             const Tensor& dact, const Tensor& dfch) {
  if (config.mlp == Mlp::swiglu)
    ops::swiglu_backward(stream, fch, dact, dfch);
  else
    ops::activation_backward(stream, mlp_activation(config), fch, dact, dfch);
}

void block_forward(vk::CommandStream& stream, const GptConfig& config, const BlockWeights& w,
                   const Tensor& residual, BlockTensors& t, const BlockPass& pass) {
  const auto norm = norm_kind(config);
  const auto act = mlp_activation(config);
  const bool gated = config.mlp == Mlp::swiglu;
  const bool qk = transforms_qk(config);
  // out = x·Wᵀ + b (+ out with accumulate), a linear layer. Mixed precision: x is rounded to f16
  // into x_h first and multiplied by the weight's f16 copy (named here as the f32 weight's twin in
  // half_weights).
  const BlockWeights* half = pass.half_weights;
  auto linear = [&](const Tensor& x, const Tensor& x_h, const Tensor& W, const Tensor& W_h,
                    const Tensor& bias, const Tensor& out, bool accumulate) {
    if (!half) return ops::matmul(stream, x, W, out, Layout::NT, &bias, accumulate);
    ops::cast_to_f16(stream, x, x_h);
    ops::matmul(stream, x_h, W_h, out, Layout::NT, &bias, accumulate);
  };
  // norm(x) · Wᵀ + b into out (and the MLP's activation of out into act_out): decoding fuses the
  // norm into the projection where the device allows (ln, mean and rstd may be left unwritten), and
  // an elementwise activation too (swiglu's gate pairs columns the fused kernel keeps apart, so it
  // runs after); training needs every intermediate for the backward.
  auto norm_project = [&](const Tensor& x, const std::optional<Tensor>& nw,
                          const std::optional<Tensor>& nb, const Tensor& W, const Tensor& W_h,
                          const Tensor& bias, const Tensor& out, const Tensor& ln,
                          const Tensor& ln_h, const Tensor& mean, const Tensor& rstd,
                          const Tensor* act_out) {
    if (pass.decoding) {
      const Tensor* fused_act = gated ? nullptr : act_out;
      ops::norm_matmul_nt(stream, norm, x, ptr(nw), ptr(nb), W, bias, out, ln, mean, rstd,
                          fused_act, act);
      if (act_out && !fused_act) mlp_activation_forward(stream, config, out, *act_out);
      return;
    }
    ops::norm_forward(stream, norm, x, ptr(nw), ptr(nb), ln, mean, rstd);
    linear(ln, ln_h, W, W_h, bias, out, false);
    if (act_out) mlp_activation_forward(stream, config, out, *act_out);
  };
  // residual + y·Wᵀ + b: decoding adds in place as the projection's accumulate (the same float sum
  // as an add after the matmul, one dispatch fewer on a path that pays ~25 us per dispatch on
  // lavapipe); training keeps the sum in a new tensor, the next norm's saved input.
  auto project_add = [&](const Tensor& y, const Tensor& y_h, const Tensor& W, const Tensor& W_h,
                         const Tensor& bias, const Tensor& in, const Tensor& proj,
                         const Tensor& sum) {
    if (pass.decoding) {
      linear(y, y_h, W, W_h, bias, in, /*accumulate=*/true);
      return;
    }
    linear(y, y_h, W, W_h, bias, proj, false);
    ops::add(stream, in, proj, sum);
  };
  const BlockWeights& h = half ? *half : w;  // the weights the matmuls read

  // A decoding step's rows go through the matmuls in groups of at most ops::kSkinnyRows (the
  // decode kernels compute every row of such a group alike, so a row's bits do not depend on the
  // others); everything else runs once over all rows. `rows(t, g, k)`: rows g..g+k-1 of t.
  const bool batched = !t.row_caches.empty();
  const int64_t n_rows = residual.numel() / config.n_embd;
  auto rows = [&](const Tensor& x, int64_t first, int64_t count) -> Tensor {
    if (!batched || x.slice.size == 0) return x;
    if (x.shape.size() == 1) return Tensor{{count}, x.dtype, x.slice.sub(first * 4, count * 4)};
    return row_range(x, first, count, x.cols());
  };
  auto in_groups = [&](const auto& f) {
    const int64_t group = batched ? ops::kSkinnyRows : std::max<int64_t>(n_rows, 1);
    for (int64_t g = 0; g < n_rows; g += group) f(g, std::min(group, n_rows - g));
  };
  in_groups([&](int64_t g, int64_t k) {
    norm_project(rows(residual, g, k), w.ln1_w, w.ln1_b, w.qkv_w, h.qkv_w, w.qkv_b,
                 rows(qk || batched ? t.qkv_raw : t.qkv, g, k), rows(t.ln1, g, k), t.ln1_h,
                 rows(t.ln1_mean, g, k), rows(t.ln1_rstd, g, k), nullptr);
  });
  const Tensor no_rope;
  const Tensor& rope = pass.rope_table ? *pass.rope_table : no_rope;
  if (batched) {
    // per-row statistics start at multiples of 4 floats (the decoder pads them: binding alignment)
    const int64_t n = static_cast<int64_t>(t.row_caches.size()), Q = t.qkv_raw.cols();
    const int64_t C = config.n_embd, NH = config.n_head, NQK = NH + config.kv_heads();
    auto at_row = [](int64_t r, int64_t width) { return r * ((width + 3) / 4 * 4) * 4; };
    const Tensor projected{{n, Q}, DType::f32, t.qkv_raw.slice};
    if (qk) {
      for (int64_t r = 0; r < n; ++r) {
        const int pos = t.row_positions[r];
        const Tensor rstd =
            config.qk_norm
                ? Tensor{{1, NQK}, DType::f32, t.qk_rstd.slice.sub(at_row(r, NQK), NQK * 4)}
                : Tensor{};
        ops::qk_transform_forward(stream, qk_transform(config), row_range(t.qkv_raw, r, 1, Q),
                                  row_range(t.row_caches[r], pos, 1, Q), rstd, rope, pass.T, pos);
      }
    } else {
      ops::kv_cache_write(stream, t.step_rows, projected, t.layer_cache);
    }
    const Tensor lse_rows{{n, NH}, DType::f32, t.lse.slice.sub(0, n * NH * 4)};
    if (!ops::attention_decode_rows(stream, t.layer_cache, t.step_rows,
                                    Tensor{{n, C}, DType::f32, t.atty.slice}, lse_rows,
                                    config.n_head, config.kv_heads()))
      for (int64_t r = 0; r < n; ++r) {
        const int pos = t.row_positions[r];
        ops::attention_forward(
            stream, row_range(t.row_caches[r], 0, pos + 1, Q), row_range(t.atty, r, 1, C),
            Tensor{{1, NH, 1}, DType::f32, t.lse.slice.sub(at_row(r, NH), NH * 4)}, config.n_head,
            pos, config.kv_heads());
      }
  } else {
    if (qk)
      ops::qk_transform_forward(stream, qk_transform(config), t.qkv_raw, t.qkv, t.qk_rstd, rope,
                                pass.T, pass.pos0);
    // Mixed precision on matrix cores: q·kᵀ and p·v in f16 with f32 sums. The backward stays the
    // f32 kernel; it recomputes the probabilities from f32 scores and this lse, which differ from
    // the forward's by the f16 rounding of q and k (~1e-3 of a score), as any autocast run does.
    if (pass.half_weights && ops::attention_coopmat_fits(stream.context(), config.head_size()))
      ops::attention_forward_coopmat(stream, t.attention_qkv, t.atty, t.lse, config.n_head,
                                     pass.pos0, config.kv_heads());
    else
      ops::attention_forward(stream, t.attention_qkv, t.atty, t.lse, config.n_head, pass.pos0,
                             config.kv_heads());
  }
  in_groups([&](int64_t g, int64_t k) {
    project_add(rows(t.atty, g, k), t.atty_h, w.attn_proj_w, h.attn_proj_w, w.attn_proj_b,
                rows(residual, g, k), t.attproj, t.residual2);
  });
  const Tensor& mid = pass.decoding ? residual : t.residual2;
  in_groups([&](int64_t g, int64_t k) {
    const Tensor act = rows(t.fch_act, g, k);
    norm_project(rows(mid, g, k), w.ln2_w, w.ln2_b, w.fc_w, h.fc_w, w.fc_b, rows(t.fch, g, k),
                 rows(t.ln2, g, k), t.ln2_h, rows(t.ln2_mean, g, k), rows(t.ln2_rstd, g, k), &act);
  });
  in_groups([&](int64_t g, int64_t k) {
    project_add(rows(t.fch_act, g, k), t.fch_act_h, w.fc_proj_w, h.fc_proj_w, w.fc_proj_b,
                rows(mid, g, k), t.fcproj, t.residual3);
  });
}

void head_forward(vk::CommandStream& stream, const GptConfig& config, const ParameterLayout& layout,
                  const vk::BufferSlice& params, const Tensor& x, const Tensor& lnf,
                  const Tensor& lnf_mean, const Tensor& lnf_rstd, const Tensor& logits,
                  uint64_t max_binding_bytes, const HeadHalf* half) {
  const auto lnf_w = optional_view(layout, params, layout.lnf_w),
             lnf_b = optional_view(layout, params, layout.lnf_b);
  ops::norm_forward(stream, norm_kind(config), x, ptr(lnf_w), ptr(lnf_b), lnf, lnf_mean, lnf_rstd);
  if (half) {
    ops::cast_to_f16(stream, lnf, half->lnf_h);
    lm_head_forward(stream, half->lnf_h, half->head, logits, max_binding_bytes);
  } else {
    lm_head_forward(stream, lnf, parameter_view(layout, params, layout.lm_head), logits,
                    max_binding_bytes);
  }
  if (config.logit_softcap > 0)
    ops::softcap(stream, logits, logits, config.logit_softcap, max_binding_bytes);
}

}  // namespace alpha::gpt
