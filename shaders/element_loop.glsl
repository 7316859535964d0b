// The loop of the elementwise kernels over i < n. The plain variants stride over the whole grid (any
// n fits the group-count limit, and on a GPU neighbouring invocations touch neighbouring elements).
// SPANS (the CPU-device variants, launched as 8-invocation workgroups: one lavapipe subgroup): each
// workgroup owns one contiguous span of n / groups elements (rounded up to 8) and its 8 lanes take
// every 8th element of it, so each subgroup streams through its own memory; on lavapipe a grid-
// stride walk (each subgroup touching 8 elements of every grid's worth) streams at a third of that
// (dev/README.md).
#ifdef SPANS
#define FOR_EACH_ELEMENT(i, n)                                                                    \
  const uint span_ = (((n) + gl_NumWorkGroups.x - 1) / gl_NumWorkGroups.x + 7) / 8 * 8;          \
  const uint end_ = min(gl_WorkGroupID.x * span_ + span_, (n));                                  \
  for (uint i = gl_WorkGroupID.x * span_ + gl_LocalInvocationID.x; i < end_; i += 8)
#else
#define FOR_EACH_ELEMENT(i, n)                                                                    \
  const uint stride_ = gl_NumWorkGroups.x * gl_WorkGroupSize.x;                                  \
  for (uint i = gl_GlobalInvocationID.x; i < (n); i += stride_)
#endif
