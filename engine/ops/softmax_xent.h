// Fused softmax cross-entropy (shaders/softmax_xent.comp): per-row losses and the logits gradient
// in one kernel. Averaging the losses and choosing dloss_scale (e.g. 1 / counted targets) is the
// caller's.
#pragma once

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

// losses[n] = -log softmax(logits[n])[targets[n]], 0 where targets[n] == -1 (ignored); a target
// outside
// [-1, V) gives a NaN loss. dlogits[n] = (softmax(logits[n]) - onehot(targets[n])) * dloss_scale,
// all zeros on ignored rows. dlogits may be the same tensor as logits (overwritten in place). One
// workgroup per row, max-subtracted, deterministic. Rows are dispatched in chunks whose logits
// binding fits the device's storage-buffer range (max_chunk_bytes > 0 lowers it, for tests).
void softmax_cross_entropy(vk::CommandStream& stream,
                           const Tensor& logits,   // (N, V) f32
                           const Tensor& targets,  // (N) i32, -1 = ignore
                           const Tensor& losses,   // (N) f32
                           const Tensor& dlogits,  // (N, V) f32, may be logits
                           float dloss_scale, VkDeviceSize max_chunk_bytes = 0);

}  // namespace alpha::ops
