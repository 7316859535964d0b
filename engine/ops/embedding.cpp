// embedding_forward and embedding_backward launchers (see embedding.h).
#include "engine/ops/embedding.h"

#include <algorithm>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct EmbeddingPush {  // twin of embedding.comp's Push
  uint32_t N, T, C, V;
  uint32_t vocab_chunk;
  uint32_t vocab_offset, vocab_total;
};
static_assert(sizeof(EmbeddingPush) == 28);

// dwte: one invocation per channel (64 per group) and vocabulary part. GPUs want ~64K invocations,
// so the vocabulary is cut into parts (each part re-reads all N tokens, a broadcast load); a CPU
// device runs one workgroup per core thread and wants no extra token scans: one part.
constexpr uint32_t kDwteGroupSize = 64;
constexpr int64_t kDwteGpuInvocations = 65536;

struct EmbeddingShape {
  int64_t B, T, C, V, max_t;
};

// table/wpe/activations are wte/wpe/out (forward) or dwte/dwpe/dout (backward); roles name them in
// errors. wpe may be absent (nullptr).
static EmbeddingShape check_shapes(const char* op, const Tensor& tokens, const Tensor& table,
                                   const Tensor* wpe, const Tensor& activations,
                                   const char* table_role, const char* wpe_role,
                                   const char* act_role) {
  if (tokens.dtype != DType::i32)
    fail("{}: tokens are {}, expected i32 token ids", op, dtype_name(tokens.dtype));
  require_f32(table, op, table_role);
  if (wpe) require_f32(*wpe, op, wpe_role);
  require_f32(activations, op, act_role);
  if (tokens.shape.size() != 2 || table.shape.size() != 2 || (wpe && wpe->shape.size() != 2))
    fail("{}: tokens {} must be (B, T), {} {} (V, C) and {} {} (maxT, C)", op,
         tokens.shape_string(), table_role, table.shape_string(), wpe_role,
         wpe ? wpe->shape_string() : "absent");
  EmbeddingShape s{tokens.shape[0], tokens.shape[1], table.shape[1], table.shape[0],
                   wpe ? wpe->shape[0] : tokens.shape[1]};
  if (wpe && (wpe->shape[1] != s.C || s.max_t < s.T))
    fail("{}: {} {} does not fit tokens {} and {} {}: needs (maxT >= {}, {})", op, wpe_role,
         wpe->shape_string(), tokens.shape_string(), table_role, table.shape_string(), s.T, s.C);
  if (activations.numel() != s.B * s.T * s.C || activations.cols() != s.C)
    fail("{}: {} is {}, expected (B, T, C) = ({}, {}, {})", op, act_role,
         activations.shape_string(), s.B, s.T, s.C);
  return s;
}

// Push constants for the table rows [first, first + rows) bound as one block.
static EmbeddingPush make_push(const EmbeddingShape& s, int64_t first, int64_t rows, uint32_t vocab_chunk) {
  return {static_cast<uint32_t>(s.B * s.T), static_cast<uint32_t>(s.T), static_cast<uint32_t>(s.C),
          static_cast<uint32_t>(rows), vocab_chunk, static_cast<uint32_t>(first), static_cast<uint32_t>(s.V)};
}

// The table's rows [first, first + rows) as one binding.
static vk::BufferSlice table_block(const Tensor& table, int64_t first, int64_t rows) {
  const int64_t row_bytes = table.cols() * static_cast<int64_t>(sizeof(float));
  return table.slice.sub(first * row_bytes, rows * row_bytes);
}

// The forward's dispatches (one per block of wte rows): `rows` selects the ROWS variants, whose
// tokens are rows of (token, position, slot, 0).
static void record_forward(vk::CommandStream& stream, const EmbeddingShape& s, bool rows,
                           const Tensor& tokens, const Tensor& wte, const Tensor* wpe,
                           const Tensor& out, uint64_t max_binding_bytes) {
  const char* name =
      rows ? (wpe ? "embedding_rows_forward_f32" : "embedding_rows_tokens_forward_f32")
           : (wpe ? "embedding_forward_f32" : "embedding_tokens_forward_f32");
  const auto& pipeline = stream.context().pipelines().get(
      {name, wpe ? 4u : 3u, sizeof(EmbeddingPush), {kElementwiseGroupSize}});
  const int64_t block = rows_per_binding(stream, s.C * 4, max_binding_bytes);
  for (int64_t first = 0; first < s.V; first += block) {
    const int64_t n = std::min(block, s.V - first);
    const auto push = make_push(s, first, n, 0);
    const auto groups = elementwise_groups(stream, out.numel());
    if (wpe)
      stream.dispatch(pipeline,
                      {vk::reads(tokens.slice), vk::reads(table_block(wte, first, n)),
                       vk::reads(wpe->slice), vk::writes(out.slice)},
                      push, groups);
    else
      stream.dispatch(
          pipeline,
          {vk::reads(tokens.slice), vk::reads(table_block(wte, first, n)), vk::writes(out.slice)},
          push, groups);
  }
}

void embedding_forward(vk::CommandStream& stream, const Tensor& tokens, const Tensor& wte,
                       const Tensor* wpe, const Tensor& out, uint64_t max_binding_bytes) {
  const auto s = check_shapes("embedding_forward", tokens, wte, wpe, out, "wte", "wpe", "out");
  record_forward(stream, s, false, tokens, wte, wpe, out, max_binding_bytes);
}

void embedding_rows_forward(vk::CommandStream& stream, const Tensor& rows, const Tensor& wte,
                            const Tensor* wpe, const Tensor& out, uint64_t max_binding_bytes) {
  const char* op = "embedding_rows_forward";
  if (rows.dtype != DType::i32 || rows.shape.size() != 2 || rows.shape[1] != 4)
    fail("{}: rows are {} {}, expected (R, 4) i32", op, dtype_name(rows.dtype),
         rows.shape_string());
  const int64_t R = rows.shape[0];
  // as tokens (1, R): each row's own position replaces the row index
  const Tensor as_tokens{{1, R}, DType::i32, rows.slice};
  const auto s = check_shapes(op, as_tokens, wte, wpe, out, "wte", "wpe", "out");
  record_forward(stream, s, true, rows, wte, wpe, out, max_binding_bytes);
}

void embedding_backward(vk::CommandStream& stream, const Tensor& tokens, const Tensor& dout,
                        const Tensor& dwte, const Tensor* dwpe, uint64_t max_binding_bytes) {
  const auto& info = stream.context().info();
  int64_t parts = 1;
  if (info.type != VK_PHYSICAL_DEVICE_TYPE_CPU && dwte.shape.size() == 2) {
    const int64_t channel_groups = (dwte.cols() + kDwteGroupSize - 1) / kDwteGroupSize;
    parts = std::clamp<int64_t>(kDwteGpuInvocations / (channel_groups * kDwteGroupSize), 1,
                                dwte.rows());
  }
  embedding_backward_in_parts(stream, tokens, dout, dwte, dwpe, static_cast<uint32_t>(parts), max_binding_bytes);
}

void embedding_backward_in_parts(vk::CommandStream& stream, const Tensor& tokens, const Tensor& dout,
                        const Tensor& dwte, const Tensor* dwpe, uint32_t vocab_parts,
                        uint64_t max_binding_bytes) {
  const auto s =
      check_shapes("embedding_backward", tokens, dwte, dwpe, dout, "dwte", "dwpe", "dout");
  const auto& info = stream.context().info();
  if (vocab_parts < 1 || vocab_parts > s.V || vocab_parts > info.max_group_count_y)
    fail("embedding_backward: {} vocabulary parts for V = {}; use 1..min(V, {})", vocab_parts, s.V,
         info.max_group_count_y);
  const int64_t channel_groups = (s.C + kDwteGroupSize - 1) / kDwteGroupSize;
  if (channel_groups > info.max_group_count_x)
    fail("embedding_backward: C = {} needs {} workgroups, the device allows {}", s.C,
         channel_groups, info.max_group_count_x);
  const auto chunk = static_cast<uint32_t>((s.V + vocab_parts - 1) / vocab_parts);

  const auto& dwte_pipeline = stream.context().pipelines().get(
      {"embedding_dwte_f32", 3, sizeof(EmbeddingPush), {kDwteGroupSize}});
  const int64_t block = rows_per_binding(stream, s.C * 4, max_binding_bytes);
  for (int64_t first = 0; first < s.V; first += block) {  // row blocks of dwte, one binding each
    const int64_t rows = std::min(block, s.V - first);
    const auto parts = static_cast<uint32_t>((rows + chunk - 1) / chunk);  // no empty trailing part
    stream.dispatch(dwte_pipeline,
                    {vk::reads(tokens.slice), vk::reads(dout.slice), vk::writes(table_block(dwte, first, rows))},
                    make_push(s, first, rows, chunk), vk::Groups{static_cast<uint32_t>(channel_groups), parts},
                    "embedding_backward_dwte");
  }

  if (!dwpe) return;  // no position table
  const auto used_dwpe =
      dwpe->slice.sub(0, static_cast<VkDeviceSize>(s.T * s.C) * sizeof(float));  // rows < T
  const auto& dwpe_pipeline = stream.context().pipelines().get(
      {"embedding_dwpe_f32", 2, sizeof(EmbeddingPush), {kElementwiseGroupSize}});
  stream.dispatch(dwpe_pipeline, {vk::reads(dout.slice), vk::writes(used_dwpe)},
                  make_push(s, 0, s.V, chunk), elementwise_groups(stream, s.T * s.C),
                  "embedding_backward_dwpe");
}

}  // namespace alpha::ops
