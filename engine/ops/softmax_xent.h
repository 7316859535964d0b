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
// all zeros on ignored rows. dloss_scale lives in a device buffer, not a push constant, so that a
// recorded training step replays with each batch's own scale. dlogits may be the same tensor as
// logits (overwritten in place). One workgroup per row, max-subtracted, deterministic. Rows are
// dispatched in chunks whose logits binding fits the device's storage-buffer range (max_chunk_bytes
// > 0 lowers it, for tests). softcap > 0 (tanh logit softcapping): the logits given are already
// capped, c = cap·tanh(z/cap) (ops::softcap), the losses are those of c, and dlogits is the
// gradient w.r.t. the uncapped z: (softmax(c) - onehot)·dloss_scale·(1 - (c/cap)²), the last factor
// clamped at 0 against rounding. softcap = 0 is the plain loss, bit for bit the same as without the
// parameter.
void softmax_cross_entropy(vk::CommandStream& stream,
                           const Tensor& logits,       // (N, V) f32, capped when softcap > 0
                           const Tensor& targets,      // (N) i32, -1 = ignore
                           const Tensor& losses,       // (N) f32
                           const Tensor& dlogits,      // (N, V) f32, may be logits
                           const Tensor& dloss_scale,  // (>= 1) f32 on the device: [0] is read
                           VkDeviceSize max_chunk_bytes = 0, float softcap = 0);

}  // namespace alpha::ops
