// qk_transform_forward/backward launchers and the rope table (see qk_transform.h): checks, the
// variant (texel reads on CPU devices), spec constants for the two flags, one dispatch.
#include "engine/ops/qk_transform.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct QkTransformPush {  // twin of qk_transform.comp's Push
  uint32_t rows, T, pos0, head_size, n_head, n_kv_head, out_first;
  float eps;
};
static_assert(sizeof(QkTransformPush) == 32);

// Lanes (rows) per workgroup: one 8-lane subgroup on CPU devices (a workgroup is one thread's SIMD
// vector), two warps / one wave on GPUs.
constexpr uint32_t kCpuRows = 8, kGpuRows = 64;

std::vector<float> rope_table(int seq_len, int head_size, double theta) {
  if (seq_len < 0 || head_size < 2 || head_size % 2 != 0 || !(theta > 0))
    fail("rope_table: needs seq_len >= 0, an even head size >= 2 and theta > 0 (got {}, {}, {})",
         seq_len, head_size, theta);
  const int half = head_size / 2;
  std::vector<float> table(static_cast<size_t>(seq_len) * head_size);
  for (int pos = 0; pos < seq_len; ++pos)
    for (int i = 0; i < half; ++i) {
      const double angle = pos * std::pow(theta, -2.0 * i / head_size);
      table[(static_cast<size_t>(pos) * half + i) * 2] = static_cast<float>(std::cos(angle));
      table[(static_cast<size_t>(pos) * half + i) * 2 + 1] = static_cast<float>(std::sin(angle));
    }
  return table;
}

struct QkShape {
  int64_t N, W, heads;  // rows, row width, NH + 2·NKV
};

// Checks the head counts, qkv (N, W) and the flagged operands; returns the shape.
static QkShape check(const char* op, const QkTransform& qk, const Tensor& qkv, const Tensor& rstd,
                     const Tensor& table, int T, int pos0) {
  const int NH = qk.n_head, NKV = qk.n_kv_head, HS = qk.head_size;
  if (NH < 1 || NKV < 1 || NH % NKV != 0)
    fail("{}: {} q heads and {} k/v heads; needs at least one of each, NKV dividing NH", op, NH,
         NKV);
  if (HS < 2 || HS % 2 != 0)
    fail("{}: head size {} must be even and >= 2 (rope pairs element i with i + HS/2)", op, HS);
  if (T < 1 || pos0 < 0) fail("{}: T = {} must be >= 1 and pos0 = {} >= 0", op, T, pos0);
  require_f32(qkv, op, "qkv");
  const int64_t W = int64_t(NH + 2 * NKV) * HS, N = qkv.rows();
  if (qkv.cols() != W || N < 1)
    fail("{}: qkv is {}, expected (N, W) with N >= 1 and W = (NH + 2·NKV)·HS = ({} + 2·{})·{} = {}",
         op, qkv.shape_string(), NH, NKV, HS, W);
  if (qk.qk_norm) {
    require_f32(rstd, op, "rstd");
    if (rstd.numel() != N * (NH + NKV))
      fail("{}: rstd is {}, expected (N, NH + NKV) = ({}, {})", op, rstd.shape_string(), N,
           NH + NKV);
  }
  if (qk.rope) {
    require_f32(table, op, "rope_table");
    const int64_t positions = pos0 + std::min<int64_t>(N, T);
    if (table.numel() % HS != 0 || table.numel() / HS < positions)
      fail(
          "{}: rope_table is {}; rows at positions up to {} need ({}, HS/2 = {}, 2) or more "
          "(ops::rope_table)",
          op, table.shape_string(), positions - 1, positions, HS / 2);
  }
  return {N, W, NH + 2 * NKV};
}

static const vk::Pipeline& pipeline(vk::CommandStream& stream, const QkTransform& qk,
                                    const char* plain, const char* texel, bool use_texel,
                                    uint32_t bindings, uint32_t texel_bindings) {
  const bool cpu = stream.context().info().type == VK_PHYSICAL_DEVICE_TYPE_CPU;
  return stream.context().pipelines().get(
      {use_texel ? texel : plain,
       bindings,
       sizeof(QkTransformPush),
       {cpu ? kCpuRows : kGpuRows, uint32_t(qk.qk_norm), uint32_t(qk.rope)},
       use_texel ? texel_bindings : 0});
}

static QkTransformPush push_for(const QkTransform& qk, const QkShape& s, int T, int pos0,
                                uint32_t out_first) {
  return {static_cast<uint32_t>(s.N),
          static_cast<uint32_t>(T),
          static_cast<uint32_t>(pos0),
          static_cast<uint32_t>(qk.head_size),
          static_cast<uint32_t>(qk.n_head),
          static_cast<uint32_t>(qk.n_kv_head),
          out_first,
          kQkNormEps};
}

// Workgroups: enough for the rows (the kernel loops over the rest) times one row of them per head.
static vk::Groups groups(const vk::CommandStream& stream, const QkShape& s) {
  const auto& info = stream.context().info();
  const int64_t lanes = info.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? kCpuRows : kGpuRows;
  if (s.heads > info.max_group_count_y)
    fail("qk_transform: {} heads exceed the device's {} workgroups in y", s.heads,
         info.max_group_count_y);
  const int64_t limit = std::min<int64_t>(info.max_group_count_x, 65535);
  return {static_cast<uint32_t>(std::clamp<int64_t>((s.N + lanes - 1) / lanes, 1, limit)),
          static_cast<uint32_t>(s.heads)};
}

// The TEXEL variant: a CPU device with texel kernels whose r32f views fit every texel-read operand.
static bool texel_reads_fit(const vk::CommandStream& stream,
                            std::initializer_list<const Tensor*> reads) {
  return stream.context().info().texel_r32f && texel_views_fit(stream, reads, VK_FORMAT_R32_SFLOAT);
}

static vk::Binding r32(const Tensor& t) {
  return vk::reads_texels(t.slice.sub(0, t.bytes()), VK_FORMAT_R32_SFLOAT);
}

void qk_transform_forward(vk::CommandStream& stream, const QkTransform& qk, const Tensor& qkv_in,
                          const Tensor& qkv_out, const Tensor& rstd, const Tensor& rope_table,
                          int T, int pos0) {
  const char* op = "qk_transform_forward";
  const QkShape s = check(op, qk, qkv_in, rstd, rope_table, T, pos0);
  require_f32(qkv_out, op, "qkv_out");
  if (qkv_out.numel() != s.N * s.W)
    fail("{}: qkv_out is {}, expected {} elements like qkv_in {}", op, qkv_out.shape_string(),
         s.N * s.W, qkv_in.shape_string());
  // Operands a flag leaves unused are replaced by ones the dispatch binds anyway.
  const Tensor& table = qk.rope ? rope_table : qkv_in;
  // qkv_out may start anywhere (a KV cache's rows): bound from the aligned offset below it.
  const VkDeviceSize align =
      std::max<VkDeviceSize>(stream.context().info().min_storage_buffer_offset_alignment, 4);
  const VkDeviceSize lead = qkv_out.slice.offset % align;
  if (lead % 4 != 0) fail("{}: qkv_out's offset {} is not whole floats", op, qkv_out.slice.offset);
  vk::BufferSlice out = qkv_out.slice.sub(0, qkv_out.bytes());
  out.offset -= lead, out.size += lead;
  if (out.mapped) out.mapped -= lead;
  const vk::BufferSlice rstd_slice = qk.qk_norm ? rstd.slice.sub(0, rstd.bytes()) : out;

  const QkTransformPush push = push_for(qk, s, T, pos0, static_cast<uint32_t>(lead / 4));
  const bool texel = texel_reads_fit(stream, {&qkv_in, &table});
  const auto& pipe = pipeline(stream, qk, "qk_transform_forward_f32",
                              "qk_transform_texel_forward_f32", texel, 4, 0b0011);
  const vk::Binding table_b = texel ? r32(table) : vk::reads(table.slice);
  const vk::Binding x_b = texel ? r32(qkv_in) : vk::reads(qkv_in.slice);
  stream.dispatch(pipe, {table_b, x_b, vk::writes(rstd_slice), vk::writes(out)}, push,
                  groups(stream, s), "qk_transform_forward");
}

void qk_transform_backward(vk::CommandStream& stream, const QkTransform& qk, const Tensor& dqkv_out,
                           const Tensor& qkv_in, const Tensor& rstd, const Tensor& rope_table,
                           const Tensor& dqkv_in, int T) {
  const char* op = "qk_transform_backward";
  const QkShape s = check(op, qk, qkv_in, rstd, rope_table, T, 0);
  for (auto [t, role] : {std::pair{&dqkv_out, "dqkv_out"}, {&dqkv_in, "dqkv_in"}}) {
    require_f32(*t, op, role);
    if (t->numel() != s.N * s.W)
      fail("{}: {} is {}, expected the {} elements of qkv_in {}", op, role, t->shape_string(),
           s.N * s.W, qkv_in.shape_string());
  }
  const Tensor& table = qk.rope ? rope_table : qkv_in;
  const Tensor& rstd_t = qk.qk_norm ? rstd : qkv_in;
  const QkTransformPush push = push_for(qk, s, T, 0, 0);
  const bool texel = texel_reads_fit(stream, {&dqkv_out, &qkv_in, &table});
  const auto& pipe = pipeline(stream, qk, "qk_transform_backward_f32",
                              "qk_transform_texel_backward_f32", texel, 5, 0b10011);
  auto read = [&](const Tensor& t) { return texel ? r32(t) : vk::reads(t.slice); };
  stream.dispatch(pipe,
                  {read(table), read(qkv_in), vk::reads(rstd_t.slice), vk::writes(dqkv_in.slice),
                   read(dqkv_out)},
                  push, groups(stream, s), "qk_transform_backward");
}

}  // namespace alpha::ops
