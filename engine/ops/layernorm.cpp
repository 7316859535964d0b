// norm_forward and norm_backward launchers (see layernorm.h); layernorm_forward/backward wrap them.
// The backward is two independent dispatches: dx (one workgroup per row) and dweight/dbias
// (workgroups over channels), the second only with a weight.
#include "engine/ops/layernorm.h"

#include <algorithm>
#include <string>
#include <vector>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct LayernormPush {  // twin of layernorm.comp's Push
  uint32_t N, C;
  float eps;
};
static_assert(sizeof(LayernormPush) == 12);

// Workgroup shapes per device class:
// - GPUs: 128 invocations per row (C = 768 is 6 loads each, coalesced); dweight/dbias in 32
// channels
//   x 16 row lanes = 512 invocations, 4 KiB shared memory.
// - CPU devices (lavapipe): a workgroup is one thread with 8-wide SIMD lanes and each barrier is a
//   costly switch, so one 8-lane vector per row and per 8 channels, walking all rows itself.
static const LayernormGroups kGpuGroups{128, 32, 16};
static const LayernormGroups kCpuGroups{8, 8, 1};

LayernormGroups layernorm_groups(const vk::CommandStream& stream) {
  return stream.context().info().type == VK_PHYSICAL_DEVICE_TYPE_CPU ? kCpuGroups : kGpuGroups;
}

static bool power_of_two(uint32_t v) {
  return v && !(v & (v - 1));
}

static void check_groups(const vk::CommandStream& stream, const LayernormGroups& g,
                         const char* op) {
  const auto& info = stream.context().info();
  if (!power_of_two(g.row) || !power_of_two(g.param_channels) || !power_of_two(g.param_rows))
    fail("{}: workgroup shape {}/{}x{} must be powers of two (the reductions halve them)", op,
         g.row, g.param_channels, g.param_rows);
  if (std::max(g.row, g.param_channels * g.param_rows) > info.max_workgroup_invocations)
    fail("{}: workgroup shape {}/{}x{} exceeds the device's {} invocations", op, g.row,
         g.param_channels, g.param_rows, info.max_workgroup_invocations);
}

static void require_shape(const Tensor& t, int64_t numel, int64_t cols, const char* op,
                          const char* role, const char* expected) {
  if (t.numel() != numel || t.cols() != cols)
    fail("{}: {} is {}, expected {} with N = {} rows of C = {}", op, role, t.shape_string(),
         expected, cols ? numel / cols : 0, cols);
}

static vk::Groups row_groups(const vk::CommandStream& stream, int64_t rows) {
  const int64_t limit = std::min<int64_t>(stream.context().info().max_group_count_x, 65535);
  return {static_cast<uint32_t>(
      std::clamp<int64_t>(rows, 1, limit))};  // the kernels loop over the rest
}

bool uses_texel_layernorm(const vk::CommandStream& stream, const Tensor& a, const Tensor& b,
                          const Tensor& c, const Tensor& d) {
  // the dparams kernel loops over the rows: below lavapipe's 65535-iteration loop limit
  return a.cols() % 4 == 0 && a.rows() < 65535 && texel_views_fit(stream, {&a, &b, &c, &d}) &&
         vec4_stores_fit(stream, {&d});
}

// texel kernels: one 8-lane workgroup per 8 rows (or 8 channel quads)
static vk::Groups texel_row_groups(int64_t rows) {
  return {static_cast<uint32_t>((rows + 7) / 8)};
}

// The specialization constants RMSNORM, HAS_WEIGHT, HAS_BIAS (constant_id 0..2 of both shaders),
// followed by the workgroup sizes where the shader has them.
static std::vector<uint32_t> norm_constants(NormKind kind, bool weight, bool bias,
                                            std::initializer_list<uint32_t> sizes = {}) {
  std::vector<uint32_t> c{kind == NormKind::rmsnorm ? 1u : 0u, weight ? 1u : 0u, bias ? 1u : 0u};
  c.insert(c.end(), sizes);
  return c;
}

static const char* kind_name(NormKind kind) {
  return kind == NormKind::rmsnorm ? "rmsnorm" : "layernorm";
}

// The weight and bias a kind allows: a bias only with a weight (without one there is no dparams
// pass to sum dbias in), and never for rmsnorm.
static void check_params(NormKind kind, bool weight, bool bias, const char* op, const char* names) {
  if (bias && !weight) fail("{}: {} has a bias but no weight; pass both or neither", op, names);
  if (bias && kind == NormKind::rmsnorm) fail("{}: rmsnorm takes no bias; pass nullptr for it", op);
}

void norm_forward(vk::CommandStream& stream, NormKind kind, const Tensor& x, const Tensor* weight,
                  const Tensor* bias, const Tensor& out, const Tensor& mean, const Tensor& rstd,
                  std::optional<LayernormGroups> groups) {
  const char* op = kind == NormKind::rmsnorm ? "rmsnorm_forward" : "layernorm_forward";
  for (auto [t, role] : {std::pair{&x, "x"}, {&out, "out"}, {&mean, "mean"}, {&rstd, "rstd"}})
    require_f32(*t, op, role);
  const int64_t N = x.rows(), C = x.cols();
  if (N < 1 || C < 1)
    fail("{}: x is {}, needs at least one row and one channel", op, x.shape_string());
  check_params(kind, weight, bias, op, "the norm");
  for (auto [t, role] : {std::pair{weight, "weight"}, {bias, "bias"}})
    if (t) {
      require_f32(*t, op, role);
      require_shape(*t, C, C, op, role, "(C)");
    }
  require_shape(out, N * C, C, op, "out", "(N, C)");
  require_shape(mean, N, N, op, "mean", "(N)");
  require_shape(rstd, N, N, op, "rstd", "(N)");
  // Absent parameters are bound to x: the shader's flags never read those bindings.
  const Tensor& w = weight ? *weight : x;
  const Tensor& b = bias ? *bias : x;
  LayernormPush push{static_cast<uint32_t>(N), static_cast<uint32_t>(C), kLayernormEps};
  if (!groups && uses_texel_layernorm(stream, x, w, b, out)) {
    const auto& pipeline =
        stream.context().pipelines().get({"layernorm_texel_forward_f32", 6, sizeof(LayernormPush),
                                          norm_constants(kind, weight, bias), 0b0111});
    stream.dispatch(pipeline,
                    {reads_rgba(x), reads_rgba(w), reads_rgba(b), vk::writes(out.slice),
                     vk::writes(mean.slice), vk::writes(rstd.slice)},
                    push, texel_row_groups(N), op);
    return;
  }
  const LayernormGroups g = groups ? *groups : layernorm_groups(stream);
  check_groups(stream, g, op);

  const auto& pipeline =
      stream.context().pipelines().get({"layernorm_forward_f32", 6, sizeof(LayernormPush),
                                        norm_constants(kind, weight, bias, {g.row})});
  stream.dispatch(pipeline,
                  {vk::reads(x.slice), vk::reads(w.slice), vk::reads(b.slice),
                   vk::writes(out.slice), vk::writes(mean.slice), vk::writes(rstd.slice)},
                  push, row_groups(stream, N), op);
}

void norm_backward(vk::CommandStream& stream, NormKind kind, const Tensor& dout, const Tensor& x,
                   const Tensor* weight, const Tensor& mean, const Tensor& rstd, const Tensor& dx,
                   const Tensor* dweight, const Tensor* dbias,
                   std::optional<LayernormGroups> groups) {
  const char* op = kind == NormKind::rmsnorm ? "rmsnorm_backward" : "layernorm_backward";
  for (auto [t, role] :
       {std::pair{&dout, "dout"}, {&x, "x"}, {&mean, "mean"}, {&rstd, "rstd"}, {&dx, "dx"}})
    require_f32(*t, op, role);
  const int64_t N = x.rows(), C = x.cols();
  if (N < 1 || C < 1)
    fail("{}: x is {}, needs at least one row and one channel", op, x.shape_string());
  if (!weight != !dweight)
    fail("{}: {} weight but {} dweight; dweight is given exactly when the {} has a weight", op,
         weight ? "a" : "no", dweight ? "a" : "no", kind_name(kind));
  check_params(kind, dweight, dbias, op, "the gradient");
  for (auto [t, role] : {std::pair{weight, "weight"}, {dweight, "dweight"}, {dbias, "dbias"}})
    if (t) {
      require_f32(*t, op, role);
      require_shape(*t, C, C, op, role, "(C)");
    }
  require_shape(dout, N * C, C, op, "dout", "(N, C)");
  require_shape(dx, N * C, C, op, "dx", "(N, C)");
  require_shape(mean, N, N, op, "mean", "(N)");
  require_shape(rstd, N, N, op, "rstd", "(N)");
  const bool has_bias = dbias != nullptr;
  // An absent weight is bound to x (never read); an absent dbias to dweight, as a write: the
  // shader declares it writable, so the synchronisation validation counts it as written.
  const Tensor& w = weight ? *weight : x;
  const Tensor* db = dbias ? dbias : dweight;
  LayernormPush push{static_cast<uint32_t>(N), static_cast<uint32_t>(C), kLayernormEps};
  auto& pipelines = stream.context().pipelines();
  if (!groups && uses_texel_layernorm(stream, dout, x, w, dx) &&
      texel_views_fit(stream, {&mean, &rstd}, VK_FORMAT_R32_SFLOAT)) {
    stream.dispatch(pipelines.get({"layernorm_texel_dx_f32", 7, sizeof(LayernormPush),
                                   norm_constants(kind, weight, has_bias), 0b0100111}),
                    {reads_rgba(dout), reads_rgba(x), reads_rgba(w), vk::reads(mean.slice),
                     vk::reads(rstd.slice), reads_rgba(dx), vk::writes(dx.slice)},
                    push, texel_row_groups(N), std::string(op) + "_dx");
    if (!dweight) return;
    auto r32 = [](const Tensor& t) {
      return vk::reads_texels(t.slice.sub(0, t.bytes()), VK_FORMAT_R32_SFLOAT);
    };
    stream.dispatch(pipelines.get({"layernorm_texel_dparams_f32", 6, sizeof(LayernormPush),
                                   norm_constants(kind, true, has_bias), 0b1111}),
                    {reads_rgba(dout), reads_rgba(x), r32(mean), r32(rstd),
                     vk::writes(dweight->slice), vk::writes(db->slice)},
                    push, texel_row_groups(C / 4), std::string(op) + "_dparams");
    return;
  }
  const LayernormGroups g = groups ? *groups : layernorm_groups(stream);
  check_groups(stream, g, op);
  const int64_t channel_groups = (C + g.param_channels - 1) / g.param_channels;
  if (dweight && channel_groups > stream.context().info().max_group_count_x)
    fail("{}: C = {} needs {} workgroups of {} channels, the device allows {}", op, C,
         channel_groups, g.param_channels, stream.context().info().max_group_count_x);

  // dx is read-modify-write: a write binding orders it after earlier readers and writers.
  stream.dispatch(pipelines.get({"layernorm_dx_f32", 6, sizeof(LayernormPush),
                                 norm_constants(kind, weight, has_bias, {g.row})}),
                  {vk::reads(dout.slice), vk::reads(x.slice), vk::reads(w.slice),
                   vk::reads(mean.slice), vk::reads(rstd.slice), vk::writes(dx.slice)},
                  push, row_groups(stream, N), std::string(op) + "_dx");
  if (!dweight) return;
  stream.dispatch(
      pipelines.get({"layernorm_dparams_f32", 6, sizeof(LayernormPush),
                     norm_constants(kind, true, has_bias, {g.param_channels, g.param_rows})}),
      {vk::reads(dout.slice), vk::reads(x.slice), vk::reads(mean.slice), vk::reads(rstd.slice),
       vk::writes(dweight->slice), vk::writes(db->slice)},
      push, vk::Groups{static_cast<uint32_t>(channel_groups)}, std::string(op) + "_dparams");
}

void layernorm_forward(vk::CommandStream& stream, const Tensor& x, const Tensor& weight,
                       const Tensor& bias, const Tensor& out, const Tensor& mean,
                       const Tensor& rstd, std::optional<LayernormGroups> groups) {
  norm_forward(stream, NormKind::layernorm, x, &weight, &bias, out, mean, rstd, groups);
}

void layernorm_backward(vk::CommandStream& stream, const Tensor& dout, const Tensor& x,
                        const Tensor& weight, const Tensor& mean, const Tensor& rstd,
                        const Tensor& dx, const Tensor& dweight, const Tensor& dbias,
                        std::optional<LayernormGroups> groups) {
  norm_backward(stream, NormKind::layernorm, dout, x, &weight, mean, rstd, dx, &dweight, &dbias,
                groups);
}

}  // namespace alpha::ops
