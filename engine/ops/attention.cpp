// Attention launchers and their tile table (see attention.h).
#include "engine/ops/attention.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct AttentionPush {  // twin of attention_backward.comp's Push
  uint32_t T, C, NH, NKV;
};
static_assert(sizeof(AttentionPush) == 16);
struct AttentionForwardPush {  // twin of attention_forward.comp's Push
  uint32_t T, C, NH;
  uint32_t first;  // first query row computed
  uint32_t NKV;
};
static_assert(sizeof(AttentionForwardPush) == 20);

constexpr int64_t kMaxHeadSize = 128;  // q, the accumulator and friends are HS registers each

// Rows per workgroup (spec constant 0) and walked rows per block (BC, spec constant 2):
// - CPU devices (lavapipe): a workgroup is one CPU thread running 8 SIMD lanes; 8 rows = one
//   vector, so the causal diagonal wastes little and there are many groups for the threads.
// - GPUs: 64 rows = two warps / one wave, enough groups at T >= 256 to fill the machine.
// BC = 16 gives 16 independent dot products per block (latency hiding) at 16 registers.
struct AttentionTile {
  uint32_t rows, bc;
};
static const AttentionTile kCpuTile{8, 16};
static const AttentionTile kGpuTile{64, 16};

static AttentionTile tile_for(const vk::CommandStream& stream) {
  return stream.context().info().type == VK_PHYSICAL_DEVICE_TYPE_CPU ? kCpuTile : kGpuTile;
}

// Specialization constants: rows per workgroup, HS, BC, LANES (floats per broadcast chunk). The
// shaders share rows through subgroupBroadcast from lanes 0..LANES-1 of each subgroup, so every
// subgroup must be whole: the workgroup a multiple of the subgroup size, or one partial subgroup.
static std::vector<uint32_t> constants_for(const char* op, const vk::CommandStream& stream,
                                           const AttentionTile& tile, int64_t HS) {
  const uint32_t subgroup = stream.context().info().subgroup_size;
  if (subgroup < 4)
    fail("{}: the device's subgroup size is {}, the kernels need at least 4", op, subgroup);
  if (tile.rows % subgroup != 0 && subgroup < tile.rows)
    fail("{}: {} rows per workgroup is not a multiple of the subgroup size {}", op, tile.rows,
         subgroup);
  // Halve BC above HS = 64: the unrolled block is HS·BC FMAs and lavapipe's build time grows
  // with it (HS = 128 still takes minutes to build on lavapipe).
  const uint32_t bc = HS > 64 ? tile.bc / 2 : tile.bc;
  return {tile.rows, static_cast<uint32_t>(HS), bc, std::min<uint32_t>(8, subgroup)};
}

struct AttentionShape {
  int64_t B, T, C, NH, HS, NKV;
  int64_t width() const { return C + 2 * NKV * HS; }  // of a qkv row
};

// Checks qkv (B,T,(NH + 2·NKV)·HS), NH and NKV (0: NH); returns the dimensions.
static AttentionShape qkv_shape(const char* op, const Tensor& qkv, int NH, int NKV) {
  require_f32(qkv, op, "qkv");
  if (NKV == 0) NKV = NH;
  if (NH < 1 || NKV < 1 || NH % NKV != 0)
    fail("{}: {} key/value heads do not divide {} query heads", op, NKV, NH);
  if (qkv.shape.size() != 3 || qkv.shape[2] % (NH + 2 * NKV) != 0)
    fail("{}: qkv is {}, expected (B, T, (NH + 2·NKV)·HS) with NH = {}, NKV = {}", op, qkv.shape_string(), NH,
         NKV);
  const int64_t HS = qkv.shape[2] / (NH + 2 * NKV);
  AttentionShape s{qkv.shape[0], qkv.shape[1], HS * NH, NH, HS, NKV};
  if (s.HS % 8 != 0)
    fail("{}: head size C/NH = {}/{} = {} is not a multiple of 8", op, s.C, NH, s.HS);
  if (s.HS > kMaxHeadSize)
    fail("{}: head size C/NH = {} is above the kernel's maximum {}", op, s.HS, kMaxHeadSize);
  if (s.B < 1 || s.T < 1) fail("{}: qkv {} is empty", op, qkv.shape_string());
  return s;
}

static void require_shape(const char* op, const char* role, const Tensor& t,
                          std::vector<int64_t> want) {
  if (t.shape == want) return;
  std::string expected;
  for (int64_t d : want) expected += (expected.empty() ? "" : ", ") + std::to_string(d);
  fail("{}: {} is {}, expected ({})", op, role, t.shape_string(), expected);
}

// Workgroups for `rows` query rows per (sequence, head).
static vk::Groups groups_for(const AttentionShape& s, const AttentionTile& tile, int64_t rows) {
  return {static_cast<uint32_t>((rows + tile.rows - 1) / tile.rows),
          static_cast<uint32_t>(s.B * s.NH)};
}

static AttentionPush push_for(const AttentionShape& s) {
  return {static_cast<uint32_t>(s.T), static_cast<uint32_t>(s.C), static_cast<uint32_t>(s.NH),
          static_cast<uint32_t>(s.NKV)};
}

// The TEXEL variants (CPU devices): 32-float chunks, so HS % 32 == 0, and every texel-read operand
// fits a texel view.
static bool uses_texel_attention(const vk::CommandStream& stream, const AttentionShape& s,
                                 std::initializer_list<const Tensor*> rgba, const Tensor& lse) {
  return s.HS % 32 == 0 && stream.context().info().subgroup_size == 8 &&
         texel_views_fit(stream, rgba) && texel_views_fit(stream, {&lse}, VK_FORMAT_R32_SFLOAT);
}

// The forward's operands checked: qkv (B,T,W), first_query inside T, out (B,T-first_query,C) and lse
// (B,NH,T-first_query), all f32. Returns qkv's dimensions.
static AttentionShape forward_operands(const char* op, const Tensor& qkv, const Tensor& out,
                                       const Tensor& lse, int NH, int64_t first_query, int NKV) {
  const AttentionShape s = qkv_shape(op, qkv, NH, NKV);
  if (first_query < 0 || first_query >= s.T)
    fail("{}: first query row {} is outside the {} rows of qkv", op, first_query, s.T);
  const int64_t rows = s.T - first_query;
  require_f32(out, op, "out");
  require_f32(lse, op, "lse");
  require_shape(op, "out", out, {s.B, rows, s.C});
  require_shape(op, "lse", lse, {s.B, s.NH, rows});
  return s;
}

void attention_forward(vk::CommandStream& stream, const Tensor& qkv, const Tensor& out,
                       const Tensor& lse, int NH, int64_t first_query, int NKV) {
  const char* op = "attention_forward";
  const AttentionShape s = forward_operands(op, qkv, out, lse, NH, first_query, NKV);
  const int64_t rows = s.T - first_query;
  const AttentionTile tile = tile_for(stream);
  const bool texel = uses_texel_attention(stream, s, {&qkv}, lse);
  const AttentionForwardPush push{static_cast<uint32_t>(s.T), static_cast<uint32_t>(s.C),
                                  static_cast<uint32_t>(s.NH), static_cast<uint32_t>(first_query),
                                  static_cast<uint32_t>(s.NKV)};
  if (texel && rows <= kDecodeQueryRows && vec4_stores_fit(stream, {&out})) {
    // decoding: a workgroup per (sequence, head, query row), its lanes splitting the keys
    const auto& pipeline = stream.context().pipelines().get({"attention_decode_texel_f32",
                                                             3,
                                                             sizeof(AttentionForwardPush),
                                                             {static_cast<uint32_t>(s.HS)},
                                                             0b1u});
    stream.dispatch(pipeline, {reads_rgba(qkv), vk::writes(out.slice), vk::writes(lse.slice)}, push,
                    {static_cast<uint32_t>(rows), static_cast<uint32_t>(s.B * s.NH)}, op);
    return;
  }
  const auto& pipeline = stream.context().pipelines().get(
      {texel ? "attention_texel_forward_f32" : "attention_forward_f32", 3,
       sizeof(AttentionForwardPush), constants_for(op, stream, tile, s.HS), texel ? 0b1u : 0u});
  stream.dispatch(pipeline,
                  {texel ? reads_rgba(qkv) : vk::reads(qkv.slice), vk::writes(out.slice),
                   vk::writes(lse.slice)},
                  push, groups_for(s, tile, rows), op);
}

// attention_coopmat.comp's shared memory with NSG subgroups (16 query rows each) at head size HS:
// q rows, a key and a value block of 16, scores (f32) and probabilities (f16), row max and sum.
static uint64_t coopmat_attention_shared_bytes(uint64_t nsg, uint64_t HS) {
  const uint64_t rows = 16 * nsg;
  return 2 * rows * (HS + 8) + 2 * 2 * 16 * (HS + 8) + 4 * rows * 20 + 2 * rows * 24 + 8 * rows;
}

// Subgroups per workgroup: the most of 4, 2, 1 whose shared memory the device has (0: none fits).
static uint32_t coopmat_attention_subgroups(const vk::DeviceInfo& info, int64_t HS) {
  for (uint32_t nsg : {4u, 2u, 1u})
    if (coopmat_attention_shared_bytes(nsg, HS) <= info.max_shared_memory) return nsg;
  return 0;
}

bool attention_coopmat_fits(const vk::Context& context, int64_t head_size) {
  const auto& shape = context.coopmat_shape();
  return shape && context.fp16_enabled() && 16 % shape->m == 0 && 16 % shape->n == 0 &&
         16 % shape->k == 0 && head_size % 16 == 0 &&
         coopmat_attention_subgroups(context.info(), head_size) > 0;
}

void attention_forward_coopmat(vk::CommandStream& stream, const Tensor& qkv, const Tensor& out,
                               const Tensor& lse, int NH, int64_t first_query, int NKV,
                               bool emulated) {
  const char* op = "attention_forward_coopmat";
  const AttentionShape s = forward_operands(op, qkv, out, lse, NH, first_query, NKV);
  const int64_t rows = s.T - first_query;
  const auto& context = stream.context();
  if (emulated ? !context.fp16_enabled() || s.HS % 16 != 0 : !attention_coopmat_fits(context, s.HS))
    fail("{}: {} cannot run it at head size {} (cooperative matrices with sides dividing 16, "
         "16-bit storage and a head size that is a multiple of 16 are needed)",
         op, context.info().name, s.HS);
  const uint32_t nsg = coopmat_attention_subgroups(context.info(), s.HS);
  if (nsg == 0)
    fail("{}: head size {} needs more shared memory than {}'s {} bytes", op, s.HS,
         context.info().name, context.info().max_shared_memory);
  // the emulated kernel's "subgroups" are 8 invocations with 16x16x16 fragments (fixed in the shader)
  const uint32_t lanes = emulated ? 8 : context.info().subgroup_size;
  std::vector<uint32_t> constants{nsg * lanes, static_cast<uint32_t>(s.HS), nsg};
  if (!emulated) {
    const auto& shape = *context.coopmat_shape();
    constants.insert(constants.end(), {shape.m, shape.n, shape.k});
  }
  const auto& pipeline = stream.context().pipelines().get(
      {emulated ? "attention_coopmat_emu_f32" : "attention_coopmat_f32", 3,
       sizeof(AttentionForwardPush), constants});
  const AttentionForwardPush push{static_cast<uint32_t>(s.T), static_cast<uint32_t>(s.C),
                                  static_cast<uint32_t>(s.NH), static_cast<uint32_t>(first_query),
                                  static_cast<uint32_t>(s.NKV)};
  const vk::Groups groups{static_cast<uint32_t>((rows + 16 * nsg - 1) / (16 * nsg)),
                          static_cast<uint32_t>(s.B * s.NH)};
  stream.dispatch(pipeline, {vk::reads(qkv.slice), vk::writes(out.slice), vk::writes(lse.slice)},
                  push, groups, op);
}

struct KvCacheWritePush {  // twin of kv_cache_write.comp's Push
  uint32_t R, T, W;
};
static_assert(sizeof(KvCacheWritePush) == 12);

static void require_rows(const char* op, const Tensor& rows, int64_t R) {
  if (rows.dtype != DType::i32) fail("{}: rows are {}, expected i32", op, dtype_name(rows.dtype));
  require_shape(op, "rows", rows, {R, 4});
}

void kv_cache_write(vk::CommandStream& stream, const Tensor& rows, const Tensor& qkv,
                    const Tensor& cache) {
  const char* op = "kv_cache_write";
  require_f32(qkv, op, "qkv");
  require_f32(cache, op, "cache");
  if (qkv.shape.size() != 2 || cache.shape.size() != 3 || cache.shape[2] != qkv.shape[1])
    fail("{}: qkv {} and cache {} must be (R, W) and (S, T, W)", op, qkv.shape_string(),
         cache.shape_string());
  require_rows(op, rows, qkv.shape[0]);
  const KvCacheWritePush push{static_cast<uint32_t>(qkv.shape[0]),
                              static_cast<uint32_t>(cache.shape[1]),
                              static_cast<uint32_t>(qkv.shape[1])};
  const auto& pipeline =
      stream.context().pipelines().get({"kv_cache_write_f32", 3, sizeof(push), {64}});
  stream.dispatch(pipeline, {vk::reads(rows.slice), vk::reads(qkv.slice), vk::writes(cache.slice)},
                  push, {1, push.R}, op);
}

bool attention_decode_rows(vk::CommandStream& stream, const Tensor& cache, const Tensor& rows,
                           const Tensor& out, const Tensor& lse, int NH, int NKV) {
  const char* op = "attention_decode_rows";
  const AttentionShape s = qkv_shape(op, cache, NH, NKV);
  const int64_t R = out.shape.size() == 2 ? out.shape[0] : 0;
  require_f32(out, op, "out");
  require_f32(lse, op, "lse");
  require_shape(op, "out", out, {R, s.C});
  require_shape(op, "lse", lse, {R, s.NH});
  require_rows(op, rows, R);
  if (!uses_texel_attention(stream, s, {&cache}, lse) || !vec4_stores_fit(stream, {&out}))
    return false;
  const AttentionForwardPush push{static_cast<uint32_t>(s.T), static_cast<uint32_t>(s.C),
                                  static_cast<uint32_t>(s.NH), 0, static_cast<uint32_t>(s.NKV)};
  const auto& pipeline = stream.context().pipelines().get({"attention_decode_rows_texel_f32",
                                                           4,
                                                           sizeof(AttentionForwardPush),
                                                           {static_cast<uint32_t>(s.HS)},
                                                           0b1u});
  stream.dispatch(
      pipeline,
      {reads_rgba(cache), vk::writes(out.slice), vk::writes(lse.slice), vk::reads(rows.slice)},
      push, {static_cast<uint32_t>(R), static_cast<uint32_t>(s.NH)}, op);
  return true;
}

void attention_backward(vk::CommandStream& stream, const Tensor& dout, const Tensor& qkv,
                        const Tensor& out, const Tensor& lse, const Tensor& dqkv, int NH, int NKV) {
  const char* op = "attention_backward";
  const AttentionShape s = qkv_shape(op, qkv, NH, NKV);
  require_f32(dout, op, "dout");
  require_f32(out, op, "out");
  require_f32(lse, op, "lse");
  require_f32(dqkv, op, "dqkv");
  require_shape(op, "dout", dout, {s.B, s.T, s.C});
  require_shape(op, "out", out, {s.B, s.T, s.C});
  require_shape(op, "lse", lse, {s.B, s.NH, s.T});
  require_shape(op, "dqkv", dqkv, {s.B, s.T, s.width()});
  const AttentionTile tile = tile_for(stream);
  const AttentionPush push = push_for(s);
  const vk::Groups groups = groups_for(s, tile, s.T);
  const vk::Groups kv_groups{groups.x, static_cast<uint32_t>(s.B * s.NKV)};  // the dkv pass's
  const std::vector<uint32_t> constants = constants_for(op, stream, tile, s.HS);
  // delta writes D_t into dqkv's dq slots; dkv reads them and writes dk, dv; dq reads them and
  // overwrites them with dq. Each writes dqkv, so the stream orders the three.
  const bool texel = uses_texel_attention(stream, s, {&dout, &qkv}, lse);
  const char* passes[2][3] = {
      {"attention_backward_delta_f32", "attention_backward_dkv_f32", "attention_backward_dq_f32"},
      {"attention_texel_backward_delta_f32", "attention_texel_backward_dkv_f32",
       "attention_texel_backward_dq_f32"}};
  for (const char* pass : passes[texel ? 1 : 0]) {
    const auto& pipeline = stream.context().pipelines().get(
        {pass, 5, sizeof(AttentionPush), constants, texel ? 0b1011u : 0u});
    const vk::Groups& groups_of_pass = std::string(pass).find("_dkv_") != std::string::npos ? kv_groups : groups;
    if (texel)
      stream.dispatch(pipeline,
                      {reads_rgba(dout), reads_rgba(qkv), vk::reads(out.slice),
                       vk::reads_texels(lse.slice.sub(0, lse.bytes()), VK_FORMAT_R32_SFLOAT),
                       vk::writes(dqkv.slice)},
                      push, groups_of_pass, pass);
    else
      stream.dispatch(pipeline,
                      {vk::reads(dout.slice), vk::reads(qkv.slice), vk::reads(out.slice),
                       vk::reads(lse.slice), vk::writes(dqkv.slice)},
                      push, groups_of_pass, pass);
  }
}

}  // namespace alpha::ops
