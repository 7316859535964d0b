// The q/k transform between the qkv projection and attention (shaders/qk_transform.comp): QK-norm
// (parameter-free RMSNorm of each q and k head) and rotary position embedding, forward and
// backward. The projection, the attention itself and the rope table's storage are the caller's.
#pragma once

#include <vector>

#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

constexpr float kQkNormEps = 1e-5f;

// qkv rows are [q heads (NH·HS) | k heads (NKV·HS) | v heads (NKV·HS)], head-major in each part
// (NKV <= NH and dividing it: grouped-query attention; NKV = NH is plain multi-head).
struct QkTransform {
  int n_head = 0, n_kv_head = 0, head_size = 0;  // NH, NKV, HS (HS even)
  bool qk_norm = false;  // parameter-free RMSNorm over each q and k head's HS values, eps 1e-5,
                         // before the rotation
  bool rope = false;     // rotary embedding of the q and k heads (half-split / GPT-NeoX)
};

// The rope table, (seq_len, HS/2, 2) floats: for position pos and i < HS/2 the pair (cos, sin) of
// angle = pos·theta^(-2i/HS), computed in double and rounded to float. Upload it to an f32 tensor
// of seq_len·HS elements (any shape) for the launchers below.
std::vector<float> rope_table(int seq_len, int head_size, double theta);

// Forward. Row n of qkv_in (N = qkv_in.rows() rows of width W = (NH + 2·NKV)·HS) is at position
// pos = pos0 + n % T (training: pos0 = 0 and T the sequence length; decoding into a KV cache: pos0
// the cache length and T >= N, so pos = pos0 + n). With r = rstd = 1/sqrt(mean(x²) + 1e-5) per q/k
// head (r = 1 without qk_norm) and (c, s) = rope_table[pos][i], for i < HS/2:
//   a = x[i]·r, b = x[i + HS/2]·r;  out[i] = a·c - b·s,  out[i + HS/2] = b·c + a·s
// (without rope: out = x·r); the v heads are copied. So qkv_out = [rope(norm(q)) | rope(norm(k)) |
// v]. qkv_out has N·W elements and may be a view at any float offset (e.g. rows of a KV cache); it
// may also be qkv_in. rstd (N, NH + NKV) is written when qk_norm; rope_table needs at least pos0 +
// min(N, T) positions when rope. An operand whose flag is off is neither read nor checked (pass
// any tensor, e.g. Tensor{}: another operand is bound in its place).
void qk_transform_forward(vk::CommandStream& stream, const QkTransform& qk,
                          const Tensor& qkv_in,      // (N, W), e.g. (B, T, W)
                          const Tensor& qkv_out,     // (N, W) elements, may be qkv_in
                          const Tensor& rstd,        // (N, NH + NKV), written when qk_norm
                          const Tensor& rope_table,  // (positions, HS/2, 2), read when rope
                          int T, int pos0);

// Backward of the forward at pos0 = 0 (row n at position n % T): dqkv_in = J^T dqkv_out,
// OVERWRITTEN (not accumulated); dqkv_in may be the same tensor as dqkv_out. The v heads are
// copied; each q/k head is rotated back by -angle, u = R^T·dy, then through the RMSNorm backward
// with xhat = x·rstd: dx = rstd·(u - xhat·mean(u·xhat)) (without qk_norm dx = u). qkv_in and rstd
// are the forward's input and rstd; as in the forward, rstd and rope_table are only read (and
// checked) when their flag is on.
void qk_transform_backward(vk::CommandStream& stream, const QkTransform& qk,
                           const Tensor& dqkv_out,    // (N, W)
                           const Tensor& qkv_in,      // (N, W) the forward's input
                           const Tensor& rstd,        // (N, NH + NKV) from the forward
                           const Tensor& rope_table,  // (positions, HS/2, 2)
                           const Tensor& dqkv_in,     // (N, W) overwritten, may be dqkv_out
                           int T);

}  // namespace alpha::ops
