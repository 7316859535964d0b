// bias_grad launcher (see bias_grad.h).
#include "engine/ops/bias_grad.h"

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct BiasGradPush {  // twin of bias_grad.comp's Push
  uint32_t N, C;
};
static_assert(sizeof(BiasGradPush) == 8);

// 64 columns per workgroup: eight 8-wide SIMD groups on lavapipe, two warps on a GPU.
constexpr uint32_t kBiasGradGroupSize = 64;

void bias_grad(vk::CommandStream& stream, const Tensor& dy, const Tensor& dbias) {
  require_f32(dy, "bias_grad", "dy");
  require_f32(dbias, "bias_grad", "dbias");
  if (dbias.numel() != dy.cols())
    fail("bias_grad: dbias has {} elements, dy {} has {} columns", dbias.numel(), dy.shape_string(), dy.cols());
  const auto& pipeline =
      stream.context().pipelines().get({"bias_grad_f32", 2, sizeof(BiasGradPush), {kBiasGradGroupSize}});
  BiasGradPush push{static_cast<uint32_t>(dy.rows()), static_cast<uint32_t>(dy.cols())};
  stream.dispatch(pipeline, {vk::reads(dy.slice), vk::writes(dbias.slice)}, push,
                  {static_cast<uint32_t>((dy.cols() + kBiasGradGroupSize - 1) / kBiasGradGroupSize)});
}

}  // namespace alpha::ops
