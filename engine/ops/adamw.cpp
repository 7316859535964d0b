// grad_norm_squared and adamw_update launchers (see adamw.h): both walk the tensors in chunks that
// fit one storage-buffer binding, at offsets aligned for binding.
#include "engine/ops/adamw.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct SumSquaresPush {  // twin of sum_squares.comp's Push
  uint32_t n;
  uint32_t square;
};
static_assert(sizeof(SumSquaresPush) == 8);

struct AdamWPush {  // twin of adamw.comp's Push
  uint32_t n;
  float beta1;
  float beta2;
  float one_minus_beta1;
  float one_minus_beta2;
  float eps;
  float max_norm;
};
static_assert(sizeof(AdamWPush) == 28);

constexpr uint32_t kSumSquaresGroupSize = 256;  // a power of two: the tree reduction halves it
static_assert((kSumSquaresGroupSize & (kSumSquaresGroupSize - 1)) == 0);
constexpr int64_t kSumSquaresMaxGroups = 256;  // per chunk

// Floats per chunk: at most the device's storage-buffer range (or max_chunk_bytes when > 0), a
// multiple of the binding offset alignment so every chunk after the first starts aligned.
static int64_t chunk_floats(const vk::CommandStream& stream, VkDeviceSize max_chunk_bytes,
                            const char* op, VkDeviceSize chunk_align = 4) {
  const auto& info = stream.context().info();
  const VkDeviceSize align = std::lcm(
      std::max<VkDeviceSize>(info.min_storage_buffer_offset_alignment, 1), chunk_align);
  VkDeviceSize limit = info.max_storage_buffer_range;
  if (max_chunk_bytes > 0) limit = std::min(limit, max_chunk_bytes);
  const VkDeviceSize bytes = limit / align * align;
  if (bytes == 0)
    fail("{}: a chunk limit of {} bytes is below the binding alignment {}", op, limit, align);
  return static_cast<int64_t>(bytes / 4);
}

struct SumSquaresTexelPush {  // twin of sum_squares_texel.comp's Push
  uint32_t texels;
  uint32_t tail;
  uint32_t span;
};
static_assert(sizeof(SumSquaresTexelPush) == 12);

// The texel path of grad_norm_squared: the whole tensor is one rgba32f texel view when its texels
// fit the device's limit, it starts texel-aligned and holds at least one texel.
static bool texel_norm_fits(const vk::CommandStream& stream, const Tensor& grads) {
  const auto& info = stream.context().info();
  return stream.context().texel_kernels() && grads.numel() >= 4 &&
         uint64_t(grads.numel() / 4) <= info.max_texel_buffer_elements &&
         grads.slice.offset % std::max<uint64_t>(info.min_texel_buffer_offset_alignment, 1) == 0;
}

// Pass 1 on CPU devices: 8 partial sums per workgroup, at most kNormPartials in all.
static int64_t sum_squares_texel(vk::CommandStream& stream, const Tensor& grads,
                                 const Tensor& partials) {
  const int64_t n = grads.numel(), texels = n / 4, tail = n % 4;
  const int64_t groups =
      std::clamp<int64_t>(texels / 512, 1, kNormPartials / 8);  // >= 64 texels a lane
  // texels per group, a multiple of 16 (2^27 texels at most over 512 groups: 2^14 loop iterations)
  const int64_t span = ((texels + groups - 1) / groups + 15) / 16 * 16;
  const auto& pipeline = stream.context().pipelines().get(
      {"sum_squares_texel_f32", 3, sizeof(SumSquaresTexelPush), {}, 0b011});
  // With no tail, the tail binding is any valid texel; the shader reads none of it.
  const auto tail_slice = grads.slice.sub(tail ? texels * 16 : 0, tail ? tail * 4 : 4);
  stream.dispatch(pipeline,
                  {vk::reads_texels(grads.slice.sub(0, texels * 16), VK_FORMAT_R32G32B32A32_SFLOAT),
                   vk::reads_texels(tail_slice, VK_FORMAT_R32_SFLOAT),
                   vk::writes(partials.slice.sub(0, groups * 8 * 4))},
                  SumSquaresTexelPush{static_cast<uint32_t>(texels), static_cast<uint32_t>(tail),
                                      static_cast<uint32_t>(span)},
                  {static_cast<uint32_t>(groups)}, "grad_norm_squared_pass1");
  return groups * 8;
}

// Pass 2: one group adds the first `written` partial sums in a fixed order into out[0].
static void sum_partials(vk::CommandStream& stream, const vk::Pipeline& pipeline,
                         const Tensor& partials, int64_t written, const Tensor& out) {
  stream.dispatch(
      pipeline, {vk::reads(partials.slice.sub(0, written * 4)), vk::writes(out.slice.sub(0, 4))},
      SumSquaresPush{static_cast<uint32_t>(written), 0}, {1}, "grad_norm_squared_pass2");
}

void grad_norm_squared(vk::CommandStream& stream, const Tensor& grads, const Tensor& partials,
                       const Tensor& out, VkDeviceSize max_chunk_bytes) {
  require_f32(grads, "grad_norm_squared", "grads");
  require_f32(partials, "grad_norm_squared", "partials");
  require_f32(out, "grad_norm_squared", "out");
  if (partials.numel() < kNormPartials)
    fail("grad_norm_squared: partials {} holds {} floats, it needs kNormPartials = {}",
         partials.shape_string(), partials.numel(), kNormPartials);
  const auto& sum_pipeline = stream.context().pipelines().get(
      {"sum_squares_f32", 2, sizeof(SumSquaresPush), {kSumSquaresGroupSize}});
  if (max_chunk_bytes == 0 && texel_norm_fits(stream, grads)) {
    sum_partials(stream, sum_pipeline, partials, sum_squares_texel(stream, grads, partials), out);
    return;
  }
  const int64_t n = grads.numel();
  const int64_t chunk = chunk_floats(stream, max_chunk_bytes, "grad_norm_squared");
  const int64_t chunks = (n + chunk - 1) / chunk;
  // Each chunk writes a run of partial sums that starts at an aligned binding offset: group counts
  // are multiples of the alignment in floats (surplus groups find no elements and write 0).
  const auto& info = stream.context().info();
  const int64_t align_floats =
      std::max<int64_t>(static_cast<int64_t>(info.min_storage_buffer_offset_alignment) / 4, 1);
  const int64_t groups_cap =
      std::min(kSumSquaresMaxGroups, kNormPartials / chunks) / align_floats * align_floats;
  if (groups_cap == 0)
    fail(
        "grad_norm_squared: grads {} need {} chunks of {} floats; {} partial sums hold at most {} "
        "aligned chunks",
        grads.shape_string(), chunks, chunk, kNormPartials, kNormPartials / align_floats);

  // Pass 1: per chunk, its groups' partial sums of squares, side by side in chunk order.
  int64_t written = 0;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t count = std::min(chunk, n - begin);
    int64_t groups = std::clamp<int64_t>((count + kSumSquaresGroupSize - 1) / kSumSquaresGroupSize,
                                         1, groups_cap);
    groups = (groups + align_floats - 1) / align_floats * align_floats;
    stream.dispatch(sum_pipeline,
                    {vk::reads(grads.slice.sub(begin * 4, count * 4)),
                     vk::writes(partials.slice.sub(written * 4, groups * 4))},
                    SumSquaresPush{static_cast<uint32_t>(count), 1},
                    {static_cast<uint32_t>(groups)}, "grad_norm_squared_pass1");
    written += groups;
  }
  sum_partials(stream, sum_pipeline, partials, written, out);
}

AdamWStepScalars adamw_step_scalars(const AdamWConfig& config) {
  if (config.step < 1)
    fail("adamw_update: step is {}, it counts from 1 (bias correction)", config.step);
  // Scalars folded in double, as PyTorch does with its Python floats.
  const double lr = config.lr, beta1 = config.beta1, beta2 = config.beta2;
  if (!(config.loss_scale > 0) || std::isinf(config.loss_scale))
    fail("adamw_update: loss scale {} must be finite and positive", config.loss_scale);
  return {static_cast<float>(1.0 - lr * config.weight_decay),
          static_cast<float>(lr / (1.0 - std::pow(beta1, config.step))),
          static_cast<float>(std::sqrt(1.0 - std::pow(beta2, config.step))),
          static_cast<float>(1.0 / config.loss_scale)};
}

void adamw_update(vk::CommandStream& stream, const Tensor& params, const Tensor& grads,
                  const Tensor& m, const Tensor& v, const Tensor& norm_sq,
                  const Tensor& step_scalars, const AdamWConfig& config,
                  VkDeviceSize max_chunk_bytes, const Tensor* params_f16) {
  require_f32(params, "adamw_update", "params");
  require_f32(grads, "adamw_update", "grads");
  require_f32(m, "adamw_update", "m");
  require_f32(v, "adamw_update", "v");
  require_f32(norm_sq, "adamw_update", "norm_sq");
  require_f32(step_scalars, "adamw_update", "step_scalars");
  if (step_scalars.numel() < kAdamWStepFloats)
    fail("adamw_update: step_scalars {} holds {} floats, it needs kAdamWStepFloats = {}",
         step_scalars.shape_string(), step_scalars.numel(), kAdamWStepFloats);
  require_same_numel(params, grads, "adamw_update");
  require_same_numel(params, m, "adamw_update");
  require_same_numel(params, v, "adamw_update");
  AdamWPush push{};
  push.beta1 = config.beta1;
  push.beta2 = config.beta2;
  push.one_minus_beta1 = static_cast<float>(1.0 - double(config.beta1));
  push.one_minus_beta2 = static_cast<float>(1.0 - double(config.beta2));
  push.eps = config.eps;
  push.max_norm = config.max_norm;
  const auto step_binding = vk::reads(step_scalars.slice.sub(0, kAdamWStepFloats * 4));

  const int64_t n = params.numel();
  if (params_f16) {
    if (params_f16->dtype != DType::f16)
      fail("adamw_update: params_f16 is {}, it must be f16", dtype_name(params_f16->dtype));
    require_same_numel(params, *params_f16, "adamw_update");
  }
  // The f16 copy's chunks start at half the byte offset of the f32 ones: twice the alignment keeps
  // both aligned.
  const VkDeviceSize copy_factor = params_f16 ? 2 : 1;
  auto add_copy = [&](std::vector<vk::Binding> bindings, int64_t begin, int64_t count) {
    if (params_f16) bindings.push_back(vk::writes(params_f16->slice.sub(begin * 2, count * 2)));
    return bindings;
  };
  if (n % 4 == 0 && texel_views_fit(stream, {&params, &grads, &m, &v})) {
    // Texel views to read, vec4 storage buffers of the same memory to write, in chunks that fit a
    // storage-buffer binding (and max_chunk_bytes) and start aligned for both kinds of binding.
    const auto& info = stream.context().info();
    const VkDeviceSize texel_align = std::lcm(
        std::max<VkDeviceSize>(info.min_texel_buffer_offset_alignment, 1), VkDeviceSize(16));
    const VkDeviceSize align =
        std::lcm(std::max<VkDeviceSize>(info.min_storage_buffer_offset_alignment, 1), texel_align);
    // chunk_floats' chunks are multiples of `align`: they start aligned when the tensors do
    const bool aligned = params.slice.offset % align == 0 && grads.slice.offset % align == 0 &&
                         m.slice.offset % align == 0 && v.slice.offset % align == 0 &&
                         (!params_f16 || params_f16->slice.offset % align == 0);
    if (aligned && (max_chunk_bytes == 0 || max_chunk_bytes >= align * copy_factor)) {
      const int64_t chunk =
          chunk_floats(stream, max_chunk_bytes, "adamw_update", align * copy_factor);
      const auto& pipeline = stream.context().pipelines().get(
          {params_f16 ? "adamw_texel_f16copy_f32" : "adamw_texel_f32",
           params_f16 ? 10u : 9u,
           static_cast<uint32_t>(sizeof(AdamWPush)),
           {kSpanGroupSize},
           0b1111});
      for (int64_t begin = 0; begin < n; begin += chunk) {
        const int64_t count = std::min(chunk, n - begin);
        const VkDeviceSize offset = begin * 4, bytes = count * 4;
        auto texels = [&](const Tensor& t) {
          return vk::reads_texels(t.slice.sub(offset, bytes), VK_FORMAT_R32G32B32A32_SFLOAT);
        };
        push.n = static_cast<uint32_t>(count / 4);
        stream.dispatch(pipeline,
                        add_copy({texels(params), texels(grads), texels(m), texels(v),
                                  vk::reads(norm_sq.slice.sub(0, 4)),
                                  vk::writes(params.slice.sub(offset, bytes)),
                                  vk::writes(m.slice.sub(offset, bytes)),
                                  vk::writes(v.slice.sub(offset, bytes)), step_binding},
                                 begin, count),
                        push, span_groups(stream, count / 4), "adamw");
      }
      return;
    }
  }
  const VkDeviceSize storage_align =
      std::max<VkDeviceSize>(stream.context().info().min_storage_buffer_offset_alignment, 1);
  if (params_f16 && params_f16->slice.offset % storage_align)
    fail("adamw_update: params_f16 does not start at the device's binding alignment");
  const auto& pipeline =
      stream.context().pipelines().get({params_f16 ? "adamw_f16copy_f32" : "adamw_f32",
                                        params_f16 ? 7u : 6u,
                                        static_cast<uint32_t>(sizeof(AdamWPush)),
                                        {kElementwiseGroupSize}});
  const int64_t chunk =
      chunk_floats(stream, max_chunk_bytes, "adamw_update", storage_align * copy_factor);
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t count = std::min(chunk, n - begin);
    const VkDeviceSize offset = begin * 4, bytes = count * 4;
    push.n = static_cast<uint32_t>(count);
    stream.dispatch(
        pipeline,
        add_copy(
            {vk::writes(params.slice.sub(offset, bytes)), vk::reads(grads.slice.sub(offset, bytes)),
             vk::writes(m.slice.sub(offset, bytes)), vk::writes(v.slice.sub(offset, bytes)),
             vk::reads(norm_sq.slice.sub(0, 4)), step_binding},
            begin, count),
        push, elementwise_groups(stream, count), "adamw");
  }
}

}  // namespace alpha::ops
