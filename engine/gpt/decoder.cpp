// KV-cache inference (see decoder.h): block_forward, the same block as training, on n rows at
// positions p..p+n-1 instead of B×T.
#include "engine/gpt/decoder.h"

#include <algorithm>

#include "common/error.h"
#include "engine/gpt/block.h"
#include "engine/ops/embedding.h"
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
  const int64_t Q = (config_.n_head + 2 * config_.kv_heads()) * config_.head_size();
  shared_parameters_ = shared_parameters != nullptr;
  params_ = shared_parameters_ ? *shared_parameters : arena_.allocate(layout_.total_floats * 4);
  for (int l = 0; l < config_.n_layer; ++l) cache_.push_back(Tensor::empty(arena_, {1, T, Q}));
  auto& c = chunk_;
  c.tokens = Tensor::empty(arena_, {1, R}, DType::i32);
  c.x = Tensor::empty(arena_, {R, C});
  c.ln = Tensor::empty(arena_, {R, C}), c.mean = Tensor::empty(arena_, {R}), c.rstd = Tensor::empty(arena_, {R});
  if (transforms_qk(config_)) c.qkv_raw = Tensor::empty(arena_, {R, Q});
  if (config_.qk_norm) c.qk_rstd = Tensor::empty(arena_, {R, config_.n_head + config_.kv_heads()});
  c.att = Tensor::empty(arena_, {R, C});
  c.lse = Tensor::empty(arena_, {config_.n_head, R});
  c.fch = Tensor::empty(arena_, {R, config_.mlp_fc_width()});
  c.fch_act = Tensor::empty(arena_, {R, config_.mlp_hidden()});
  c.lnf = Tensor::empty(arena_, {1, 1, C}), c.lnf_mean = Tensor::empty(arena_, {1});
  c.lnf_rstd = Tensor::empty(arena_, {1});
  c.logits = Tensor::empty(arena_, {1, config_.vocab_size});
  if (config_.pos == Positions::rope) {
    c.rope_table = Tensor::empty(arena_, {T, config_.head_size() / 2, 2});
    upload(arena_, c.rope_table, ops::rope_table(config_.seq_len, config_.head_size(), config_.rope_theta));
  }
}

uint64_t GptDecoder::memory_bytes() const { return arena_.used_bytes(); }

uint64_t GptDecoder::cache_bytes() const {
  uint64_t bytes = 0;
  for (const auto& layer : cache_) bytes += layer.bytes();
  return bytes;
}

void GptDecoder::set_parameters(std::span<const float> values) {
  if (shared_parameters_) fail("set_parameters: this decoder reads another model's parameters");
  if (static_cast<int64_t>(values.size()) != layout_.total_floats)
    fail("set_parameters: {} floats, the layout has {}", values.size(), layout_.total_floats);
  arena_.upload(params_, values.data(), values.size_bytes());
}

Tensor GptDecoder::param(int index) const { return parameter_view(layout_, params_, index); }

void GptDecoder::record_chunk(vk::CommandStream& stream, int p, int n) {
  const auto& P = layout_;
  const auto& c = chunk_;
  const int64_t C = config_.n_embd, T = config_.seq_len, Q = cache_.at(0).cols();
  const int NH = config_.n_head;
  // this chunk's n rows of each activation; the block's q/k/v rows go straight into the layer's
  // cache, and attention takes the cache's first p+n rows as keys with only the last n as queries
  BlockTensors t;
  t.ln1 = t.ln2 = first_rows(c.ln, n, C);
  t.ln1_mean = t.ln2_mean = first_rows(c.mean, n, 0);
  t.ln1_rstd = t.ln2_rstd = first_rows(c.rstd, n, 0);
  if (transforms_qk(config_)) t.qkv_raw = first_rows(c.qkv_raw, n, Q);
  if (config_.qk_norm)
    t.qk_rstd =
        Tensor{{n, c.qk_rstd.cols()}, DType::f32, c.qk_rstd.slice.sub(0, n * c.qk_rstd.cols() * 4)};
  t.atty = first_rows(c.att, n, C);
  t.lse = Tensor{{1, NH, n}, DType::f32, c.lse.slice.sub(0, int64_t(NH) * n * 4)};
  t.fch = first_rows(c.fch, n, c.fch.cols());
  t.fch_act = first_rows(c.fch_act, n, c.fch_act.cols());
  const Tensor x = first_rows(c.x, n, C);

  // positions p..p+n-1 read rows p.. of the position table
  std::optional<Tensor> wpe;
  if (P.wpe != kAbsent)
    wpe = Tensor{{T - p, C}, DType::f32, param(P.wpe).slice.sub(int64_t(p) * C * 4, (T - p) * C * 4)};
  ops::embedding_forward(stream, Tensor{{1, n}, DType::i32, c.tokens.slice.sub(0, int64_t(n) * 4)}, param(P.wte),
                         ptr(wpe), x, max_binding_bytes_);
  BlockPass pass;
  pass.decoding = true;
  pass.T = static_cast<int>(T);  // >= n: row r is at position p + r
  pass.pos0 = p;
  pass.rope_table = config_.pos == Positions::rope ? &c.rope_table : nullptr;
  for (int l = 0; l < config_.n_layer; ++l) {
    t.qkv = row_range(cache_[l], p, n, Q);
    t.attention_qkv = row_range(cache_[l], 0, p + n, Q);
    block_forward(stream, config_, block_weights(P, l, params_), x, t, pass);
  }
  head_forward(stream, config_, P, params_, row_range(c.x, n - 1, 1, C), c.lnf, c.lnf_mean, c.lnf_rstd, c.logits,
               max_binding_bytes_);
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
