// KV-cache inference (see decoder.h). The per-layer code mirrors GptModel::forward, on n rows at
// positions p..p+n-1 instead of B×T: the q/k/v rows go straight into the layer's cache, and attention
// takes the cache's first p+n rows as keys with only the last n as queries.
#include "engine/gpt/decoder.h"

#include <algorithm>

#include "common/error.h"
#include "engine/gpt/lm_head.h"
#include "engine/ops/attention.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/embedding.h"
#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "engine/ops/matmul.h"
#include "engine/vk/command_stream.h"

namespace alpha::gpt {

namespace {

// The first `rows` rows of `t` as (1, rows, cols), or (rows) when cols == 0.
Tensor first_rows(const Tensor& t, int64_t rows, int64_t cols) {
  if (cols == 0) return Tensor{{rows}, t.dtype, t.slice.sub(0, rows * dtype_bytes(t.dtype))};
  return Tensor{{1, rows, cols}, t.dtype, t.slice.sub(0, rows * cols * dtype_bytes(t.dtype))};
}

// Rows [begin, begin+rows) of a (.., cols) f32 tensor as (1, rows, cols).
Tensor row_range(const Tensor& t, int64_t begin, int64_t rows, int64_t cols) {
  return Tensor{{1, rows, cols}, DType::f32, t.slice.sub(begin * cols * 4, rows * cols * 4)};
}

}  // namespace

GptDecoder::GptDecoder(vk::Context& context, const GptConfig& config, int max_chunk, uint64_t max_binding_bytes,
                       const vk::BufferSlice* shared_parameters)
    : context_(context),
      config_((config.validate(), config)),
      layout_(config),
      max_chunk_(std::clamp(max_chunk, 1, config.seq_len)),
      max_binding_bytes_(max_binding_bytes),
      arena_(context) {
  if (max_chunk < 1) fail("the decoder's chunk must hold at least one token, not {}", max_chunk);
  const int64_t C = config_.n_embd, R = max_chunk_, T = config_.seq_len;
  shared_parameters_ = shared_parameters != nullptr;
  params_ = shared_parameters_ ? *shared_parameters : arena_.allocate(layout_.total_floats * 4);
  for (int l = 0; l < config_.n_layer; ++l) cache_.push_back(Tensor::empty(arena_, {1, T, 3 * C}));
  auto& c = chunk_;
  c.tokens = Tensor::empty(arena_, {1, R}, DType::i32);
  c.x = Tensor::empty(arena_, {R, C});
  c.ln = Tensor::empty(arena_, {R, C}), c.mean = Tensor::empty(arena_, {R}), c.rstd = Tensor::empty(arena_, {R});
  c.att = Tensor::empty(arena_, {R, C});
  c.lse = Tensor::empty(arena_, {config_.n_head, R});
  c.fch = Tensor::empty(arena_, {R, 4 * C}), c.fch_gelu = Tensor::empty(arena_, {R, 4 * C});
  c.lnf = Tensor::empty(arena_, {1, 1, C}), c.lnf_mean = Tensor::empty(arena_, {1});
  c.lnf_rstd = Tensor::empty(arena_, {1});
  c.logits = Tensor::empty(arena_, {1, config_.vocab_size});
}

uint64_t GptDecoder::memory_bytes() const {
  const uint64_t C = config_.n_embd, R = max_chunk_;
  return (shared_parameters_ ? 0 : layout_.total_floats * 4) +
         uint64_t(config_.n_layer) * config_.seq_len * 3 * C * 4 +
         4 * (R * 3 + R * C * 3 + R * 4 * C * 2 + config_.n_head * R + C + 2 + config_.vocab_size);
}

void GptDecoder::set_parameters(std::span<const float> values) {
  if (shared_parameters_) fail("set_parameters: this decoder reads another model's parameters");
  if (static_cast<int64_t>(values.size()) != layout_.total_floats)
    fail("set_parameters: {} floats, the layout has {}", values.size(), layout_.total_floats);
  arena_.upload(params_, values.data(), values.size_bytes());
}

Tensor GptDecoder::param(int index) const {
  const auto& p = layout_.params[index];
  return Tensor{p.shape, DType::f32, params_.sub(p.offset * 4, p.numel * 4)};
}

void GptDecoder::record_chunk(vk::CommandStream& stream, int p, int n) {
  using ops::Layout;
  const auto& P = layout_;
  const auto& c = chunk_;
  const int64_t C = config_.n_embd, T = config_.seq_len;
  const int NH = config_.n_head;
  // this chunk's n rows of each activation
  const Tensor x = first_rows(c.x, n, C);
  const Tensor ln = first_rows(c.ln, n, C), mean = first_rows(c.mean, n, 0), rstd = first_rows(c.rstd, n, 0);
  const Tensor att = first_rows(c.att, n, C);
  const Tensor lse{{1, NH, n}, DType::f32, c.lse.slice.sub(0, int64_t(NH) * n * 4)};
  const Tensor fch = first_rows(c.fch, n, 4 * C), fch_gelu = first_rows(c.fch_gelu, n, 4 * C);

  // positions p..p+n-1 read rows p.. of the position table
  const Tensor wpe{{T - p, C}, DType::f32, param(P.wpe).slice.sub(int64_t(p) * C * 4, (T - p) * C * 4)};
  ops::embedding_forward(stream, Tensor{{1, n}, DType::i32, c.tokens.slice.sub(0, int64_t(n) * 4)}, param(P.wte), wpe, x,
                         max_binding_bytes_);
  for (int l = 0; l < config_.n_layer; ++l) {
    const auto& w = P.blocks[l];
    const Tensor qkv_b = param(w.qkv_b), attn_proj_b = param(w.attn_proj_b), fc_b = param(w.fc_b);
    const Tensor fc_proj_b = param(w.fc_proj_b);
    ops::layernorm_matmul_nt(stream, x, param(w.ln1_w), param(w.ln1_b), param(w.qkv_w), qkv_b,
                             row_range(cache_[l], p, n, 3 * C), ln, mean, rstd);
    ops::attention_forward(stream, row_range(cache_[l], 0, p + n, 3 * C), att, lse, NH, p);
    // the residual adds are the projections' accumulate (x += y·Wᵀ + b: the same float sum as an
    // add after the matmul), one dispatch fewer each on a path that pays ~25 us per dispatch on
    // lavapipe
    ops::matmul(stream, att, param(w.attn_proj_w), x, Layout::NT, &attn_proj_b,
                /*accumulate=*/true);
    ops::layernorm_matmul_nt(stream, x, param(w.ln2_w), param(w.ln2_b), param(w.fc_w), fc_b, fch,
                             ln, mean, rstd, &fch_gelu);
    ops::matmul(stream, fch_gelu, param(w.fc_proj_w), x, Layout::NT, &fc_proj_b,
                /*accumulate=*/true);
  }
  ops::layernorm_forward(stream, row_range(c.x, n - 1, 1, C), param(P.lnf_w), param(P.lnf_b), c.lnf, c.lnf_mean,
                         c.lnf_rstd);
  lm_head_forward(stream, c.lnf, param(P.wte), c.logits, max_binding_bytes_);
}

std::vector<float> GptDecoder::append(std::span<const int32_t> tokens) {
  if (tokens.empty()) fail("decoder: no tokens to append");
  if (static_cast<int64_t>(tokens.size()) > capacity() - position_)
    fail("decoder: {} more tokens do not fit the context of {} ({} already cached)", tokens.size(), capacity(),
         position_);
  for (const int32_t token : tokens)
    if (token < 0 || token >= config_.vocab_size)
      fail("decoder: token {} is outside the vocabulary of {}", token, config_.vocab_size);
  for (size_t done = 0; done < tokens.size();) {
    const int n = static_cast<int>(std::min<size_t>(max_chunk_, tokens.size() - done));
    arena_.upload(chunk_.tokens.slice.sub(0, int64_t(n) * 4), tokens.data() + done, size_t(n) * sizeof(int32_t));
    vk::CommandStream stream(context_);
    record_chunk(stream, position_, n);
    stream.submit();
    position_ += n;
    done += n;
  }
  return download(arena_, chunk_.logits);
}

}  // namespace alpha::gpt
