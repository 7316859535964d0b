// KV-cache inference (see decoder.h): block_forward, the same block as training, on n rows at
// positions p..p+n-1 instead of B×T.
#include "engine/gpt/decoder.h"

#include <algorithm>

#include "common/error.h"
#include "engine/gpt/block.h"
#include "engine/ops/embedding.h"
#include "engine/ops/matmul.h"
#include "engine/vk/command_stream.h"

namespace alpha::gpt {

namespace {

constexpr int64_t kRowStride = 4;  // floats (or ids): 16 bytes
constexpr int kSkinny = static_cast<int>(ops::kSkinnyRows);
int64_t padded(int64_t n) {
  return (n + kRowStride - 1) / kRowStride * kRowStride;
}

// The first `rows` rows of `t` as (1, rows, cols), or (rows) when cols == 0.
Tensor first_rows(const Tensor& t, int64_t rows, int64_t cols) {
  if (cols == 0) return Tensor{{rows}, t.dtype, t.slice.sub(0, rows * dtype_bytes(t.dtype))};
  return Tensor{{1, rows, cols}, t.dtype, t.slice.sub(0, rows * cols * dtype_bytes(t.dtype))};
}

}  // namespace

int64_t GptDecoder::group_logits_floats() const {
  return padded(kSkinny * config_.vocab_size);
}

GptDecoder::GptDecoder(vk::Context& context, const GptConfig& config, int max_chunk,
                       uint64_t max_binding_bytes, const vk::BufferSlice* shared_parameters,
                       int slots)
    : context_(context),
      config_((config.validate(), config)),
      layout_(config),
      max_chunk_(std::clamp(max_chunk, 1, config.seq_len)),
      max_binding_bytes_(max_binding_bytes),
      arena_(context) {
  if (max_chunk < 1) fail("the decoder's chunk must hold at least one token, not {}", max_chunk);
  if (slots < 1 || slots > max_chunk_)
    fail("the decoder holds 1 to {} sequences (its chunk of rows), not {}", max_chunk_, slots);
  positions_.assign(slots, 0);
  const int64_t C = config_.n_embd, R = max_chunk_, T = config_.seq_len;
  const int64_t Q = (config_.n_head + 2 * config_.kv_heads()) * config_.head_size();
  shared_parameters_ = shared_parameters != nullptr;
  params_ = shared_parameters_ ? *shared_parameters : arena_.allocate(layout_.total_floats * 4);
  for (int l = 0; l < config_.n_layer; ++l) cache_.push_back(Tensor::empty(arena_, {slots, T, Q}));
  auto& c = chunk_;
  // step() binds per-row pieces of tokens, lse, qk_rstd and logits: their rows start at multiples
  // of 16 bytes (the usual storage-buffer offset alignment), so they are padded to 4 floats
  c.tokens = Tensor::empty(arena_, {1, std::max<int64_t>(R, kRowStride * slots)}, DType::i32);
  c.x = Tensor::empty(arena_, {R, C});
  c.ln = Tensor::empty(arena_, {R, C}), c.mean = Tensor::empty(arena_, {R}),
  c.rstd = Tensor::empty(arena_, {R});
  c.qkv_raw =
      Tensor::empty(arena_, {R, Q});  // the projection before QK-norm/rotary, or step()'s rows
  if (config_.qk_norm)
    c.qk_rstd = Tensor::empty(arena_, {R, padded(config_.n_head + config_.kv_heads())});
  c.att = Tensor::empty(arena_, {R, C});
  c.lse = Tensor::empty(arena_, {padded(config_.n_head), R});
  c.fch = Tensor::empty(arena_, {R, config_.mlp_fc_width()});
  c.fch_act = Tensor::empty(arena_, {R, config_.mlp_hidden()});
  c.lnf = Tensor::empty(arena_, {1, slots, C}), c.lnf_mean = Tensor::empty(arena_, {slots});
  c.lnf_rstd = Tensor::empty(arena_, {slots});
  c.logits = Tensor::empty(arena_, {(slots + kSkinny - 1) / kSkinny, group_logits_floats()});
  if (config_.pos == Positions::rope) {
    c.rope_table = Tensor::empty(arena_, {T, config_.head_size() / 2, 2});
    upload(arena_, c.rope_table,
           ops::rope_table(config_.seq_len, config_.head_size(), config_.rope_theta));
  }
}

uint64_t GptDecoder::memory_bytes() const {
  return arena_.used_bytes();
}

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

Tensor GptDecoder::param(int index) const {
  return parameter_view(layout_, params_, index);
}

Tensor GptDecoder::slot_cache(int layer, int slot) const {
  const int64_t T = config_.seq_len;
  return row_range(cache_[layer], slot * T, T, cache_[layer].cols());
}

BlockTensors GptDecoder::chunk_tensors(int n) const {
  const auto& c = chunk_;
  const int64_t C = config_.n_embd, Q = cache_.at(0).cols();
  BlockTensors t;
  t.ln1 = t.ln2 = first_rows(c.ln, n, C);
  t.ln1_mean = t.ln2_mean = first_rows(c.mean, n, 0);
  t.ln1_rstd = t.ln2_rstd = first_rows(c.rstd, n, 0);
  t.qkv_raw = first_rows(c.qkv_raw, n, Q);
  const int64_t NQK = config_.n_head + config_.kv_heads();
  if (config_.qk_norm)
    t.qk_rstd = Tensor{{n, NQK}, DType::f32, c.qk_rstd.slice.sub(0, n * NQK * 4)};
  t.atty = first_rows(c.att, n, C);
  t.lse = Tensor{
      {1, config_.n_head, n}, DType::f32, c.lse.slice.sub(0, int64_t(config_.n_head) * n * 4)};
  t.fch = first_rows(c.fch, n, c.fch.cols());
  t.fch_act = first_rows(c.fch_act, n, c.fch_act.cols());
  return t;
}

// The position table's rows from p on (positions p.. read rows p..), when the model has one.
static std::optional<Tensor> positions_from(const ParameterLayout& P, const Tensor& wpe, int p,
                                            int64_t T, int64_t C) {
  if (P.wpe == kAbsent) return std::nullopt;
  return Tensor{{T - p, C}, DType::f32, wpe.slice.sub(int64_t(p) * C * 4, (T - p) * C * 4)};
}

void GptDecoder::record_chunk(vk::CommandStream& stream, int slot, int p, int n) {
  const auto& P = layout_;
  const auto& c = chunk_;
  const int64_t C = config_.n_embd, T = config_.seq_len, Q = cache_.at(0).cols();
  // this chunk's n rows of each activation; the block's q/k/v rows go straight into the layer's
  // cache, and attention takes the cache's first p+n rows as keys with only the last n as queries
  BlockTensors t = chunk_tensors(n);
  const Tensor x = first_rows(c.x, n, C);
  const auto wpe = positions_from(P, P.wpe == kAbsent ? Tensor{} : param(P.wpe), p, T, C);
  ops::embedding_forward(stream, Tensor{{1, n}, DType::i32, c.tokens.slice.sub(0, int64_t(n) * 4)},
                         param(P.wte), ptr(wpe), x, max_binding_bytes_);
  BlockPass pass;
  pass.decoding = true;
  pass.T = static_cast<int>(T);  // >= n: row r is at position p + r
  pass.pos0 = p;
  pass.rope_table = config_.pos == Positions::rope ? &c.rope_table : nullptr;
  for (int l = 0; l < config_.n_layer; ++l) {
    const Tensor cache = slot_cache(l, slot);
    t.qkv = row_range(cache, p, n, Q);
    t.attention_qkv = row_range(cache, 0, p + n, Q);
    block_forward(stream, config_, block_weights(P, l, params_), x, t, pass);
  }
  head_forward(stream, config_, P, params_, row_range(c.x, n - 1, 1, C), first_rows(c.lnf, 1, C),
               first_rows(c.lnf_mean, 1, 0), first_rows(c.lnf_rstd, 1, 0),
               first_rows(c.logits, 1, config_.vocab_size), max_binding_bytes_);
}

void GptDecoder::record_step(vk::CommandStream& stream, std::span<const Row> rows) {
  const int n = static_cast<int>(rows.size());
  const auto& P = layout_;
  const auto& c = chunk_;
  const int64_t C = config_.n_embd, T = config_.seq_len, V = config_.vocab_size;
  BlockTensors t = chunk_tensors(n);
  t.lse = c.lse, t.qk_rstd = c.qk_rstd;  // whole: the block takes each row's padded piece
  const Tensor x = first_rows(c.x, n, C);
  // rows (token, position, slot, 0) of the step, uploaded by step(): each row's token at its own
  // sequence's next position
  const Tensor step_rows{{n, kRowStride}, DType::i32, c.tokens.slice.sub(0, n * kRowStride * 4)};
  std::vector<int> positions;
  for (int r = 0; r < n; ++r) positions.push_back(positions_[rows[r].slot]);
  ops::embedding_rows_forward(stream, step_rows, param(P.wte),
                              ptr(optional_view(P, params_, P.wpe)),
                              Tensor{{n, C}, DType::f32, x.slice}, max_binding_bytes_);
  BlockPass pass;
  pass.decoding = true;
  pass.T = static_cast<int>(T);
  pass.rope_table = config_.pos == Positions::rope ? &c.rope_table : nullptr;
  std::vector<Tensor> caches(n);
  t.row_caches = caches;
  t.row_positions = positions;
  t.step_rows = step_rows;
  for (int l = 0; l < config_.n_layer; ++l) {
    for (int r = 0; r < n; ++r) caches[r] = slot_cache(l, rows[r].slot);
    t.layer_cache = cache_[l];
    block_forward(stream, config_, block_weights(P, l, params_), x, t, pass);
  }
  // the head in groups of at most kSkinnyRows rows too, each group's logits at its padded offset
  for (int g = 0; g < n; g += kSkinny) {
    const int k = std::min(kSkinny, n - g);
    head_forward(stream, config_, P, params_, row_range(c.x, g, k, C), first_rows(c.lnf, k, C),
                 first_rows(c.lnf_mean, k, 0), first_rows(c.lnf_rstd, k, 0),
                 Tensor{{k, V},
                        DType::f32,
                        c.logits.slice.sub(g / kSkinny * group_logits_floats() * 4, k * V * 4)},
                 max_binding_bytes_);
  }
}

void GptDecoder::check_tokens(std::span<const int32_t> tokens) const {
  for (const int32_t token : tokens)
    if (token < 0 || token >= config_.vocab_size)
      fail("decoder: token {} is outside the vocabulary of {}", token, config_.vocab_size);
}

std::vector<float> GptDecoder::append(int slot, std::span<const int32_t> tokens) {
  if (slot < 0 || slot >= slots()) fail("decoder: no slot {} (it has {})", slot, slots());
  if (tokens.empty()) fail("decoder: no tokens to append");
  int& position = positions_[slot];
  if (static_cast<int64_t>(tokens.size()) > capacity() - position)
    fail("decoder: {} more tokens do not fit the context of {} ({} already cached)", tokens.size(),
         capacity(), position);
  check_tokens(tokens);
  for (size_t done = 0; done < tokens.size();) {
    const int n = static_cast<int>(std::min<size_t>(max_chunk_, tokens.size() - done));
    arena_.upload(chunk_.tokens.slice.sub(0, int64_t(n) * 4), tokens.data() + done,
                  size_t(n) * sizeof(int32_t));
    vk::CommandStream stream(context_);
    record_chunk(stream, slot, position, n);
    stream.submit();
    position += n;
    done += n;
  }
  return download(arena_, first_rows(chunk_.logits, 1, config_.vocab_size));
}

std::vector<float> GptDecoder::step(std::span<const Row> rows) {
  const int B = static_cast<int>(rows.size());
  if (B == 0) fail("decoder: a step needs at least one row");
  if (B > slots()) fail("decoder: a step of {} rows, the decoder has {} slots", B, slots());
  std::vector<bool> seen(slots());
  std::vector<int32_t> tokens(B * kRowStride);
  for (int r = 0; r < B; ++r) {
    const Row& row = rows[r];
    if (row.slot < 0 || row.slot >= slots() || seen[row.slot])
      fail("decoder: step rows must name distinct slots of 0..{}, got {}", slots() - 1, row.slot);
    seen[row.slot] = true;
    if (positions_[row.slot] >= capacity())
      fail("decoder: slot {} is full ({} tokens)", row.slot, capacity());
    tokens[r * kRowStride] = row.token;
    tokens[r * kRowStride + 1] = positions_[row.slot];
    tokens[r * kRowStride + 2] = row.slot;
    check_tokens({&row.token, 1});
  }
  arena_.upload(chunk_.tokens.slice.sub(0, tokens.size() * 4), tokens.data(),
                tokens.size() * sizeof(int32_t));
  vk::CommandStream stream(context_);
  record_step(stream, rows);
  stream.submit();
  for (const Row& row : rows) ++positions_[row.slot];
  const auto groups = download(arena_, chunk_.logits);  // each group's rows at its padded offset
  const int64_t V = config_.vocab_size;
  std::vector<float> logits(B * V);
  for (int r = 0; r < B; ++r)
    std::copy_n(groups.begin() + r / kSkinny * group_logits_floats() + r % kSkinny * V, V,
                logits.begin() + r * V);
  return logits;
}

}  // namespace alpha::gpt
