// reduce_sum launcher (see reduce.h).
#include "engine/ops/reduce.h"

#include <algorithm>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/vk/context.h"

namespace alpha::ops {

struct ReducePush {  // twin of reduce_sum.comp's Push
  uint32_t n;
};
static_assert(sizeof(ReducePush) == 4);

constexpr uint32_t kReduceGroupSize = 256;  // a power of two: the tree reduction halves it
static_assert((kReduceGroupSize & (kReduceGroupSize - 1)) == 0);

void reduce_sum(vk::CommandStream& stream, const Tensor& x, const Tensor& partials, const Tensor& out) {
  require_f32(x, "reduce_sum", "x");
  require_f32(partials, "reduce_sum", "partials");
  require_f32(out, "reduce_sum", "out");
  if (partials.numel() < kReduceGroups) fail("reduce_sum: partials needs {} floats, has {}", kReduceGroups, partials.numel());
  const auto& pipeline =
      stream.context().pipelines().get({"reduce_sum_f32", 2, sizeof(ReducePush), {kReduceGroupSize}});
  const int64_t n = x.numel();
  const auto groups = static_cast<uint32_t>(std::clamp<int64_t>((n + kReduceGroupSize - 1) / kReduceGroupSize, 1, kReduceGroups));
  const auto partial_slice = partials.slice.sub(0, groups * sizeof(float));
  stream.dispatch(pipeline, {vk::reads(x.slice), vk::writes(partial_slice)}, ReducePush{static_cast<uint32_t>(n)},
                  {groups}, "reduce_sum_pass1");
  stream.dispatch(pipeline, {vk::reads(partial_slice), vk::writes(out.slice.sub(0, sizeof(float)))},
                  ReducePush{groups}, {1}, "reduce_sum_pass2");
}

}  // namespace alpha::ops
