// The blocked LM head (see lm_head.h).
#include "engine/gpt/lm_head.h"

#include <algorithm>

#include "common/error.h"
#include "engine/ops/launch.h"
#include "engine/ops/matmul.h"
#include "engine/vk/context.h"

namespace alpha::gpt {

using ops::Layout;
using ops::MatrixView;

namespace {

struct Shape {
  int64_t N, C, V;
  int64_t rows, vocab;  // logits rows and vocabulary rows per block
};

Shape blocks_for(const vk::CommandStream& stream, const Tensor& x, const Tensor& wte, uint64_t max_binding_bytes) {
  if (wte.shape.size() != 2) fail("lm_head: wte is {}, expected (V, C)", wte.shape_string());
  const int64_t V = wte.shape[0], C = wte.shape[1];
  if (x.numel() % C != 0) fail("lm_head: x {} is not rows of C = {}", x.shape_string(), C);
  // a vocabulary block starts both a wte block (v0·C floats in) and a logits column block (v0 floats in)
  const int64_t column_granule =
      std::max<int64_t>(1, static_cast<int64_t>(stream.context().info().min_storage_buffer_offset_alignment) / 4);
  Shape s{x.numel() / C, C, V, ops::rows_per_binding(stream, V * 4, max_binding_bytes),
          ops::rows_per_binding(stream, C * 4, max_binding_bytes) / column_granule * column_granule};
  if (s.vocab < 1) fail("the token embedding cannot be split into aligned blocks within the binding limit");
  return s;
}

MatrixView rows_of(const Tensor& t, int64_t n0, int64_t nr, int64_t cols) {
  const int64_t bytes = static_cast<int64_t>(dtype_bytes(t.dtype));
  return {t.slice.sub(n0 * cols * bytes, nr * cols * bytes), nr, cols, cols, t.dtype};
}

// Rows [n0, n0+nr) × columns [v0, v0+vc) of an (N, V) matrix.
MatrixView logits_block(const Tensor& logits, const Shape& s, int64_t n0, int64_t nr, int64_t v0, int64_t vc) {
  return {logits.slice.sub((n0 * s.V + v0) * 4, ((nr - 1) * s.V + vc) * 4), nr, vc, s.V};
}

}  // namespace

void lm_head_forward(vk::CommandStream& stream, const Tensor& x, const Tensor& wte, const Tensor& logits,
                     uint64_t max_binding_bytes) {
  const Shape s = blocks_for(stream, x, wte, max_binding_bytes);
  if (logits.numel() != s.N * s.V) fail("lm_head: logits {} is not ({}, {})", logits.shape_string(), s.N, s.V);
  for (int64_t n0 = 0; n0 < s.N; n0 += s.rows) {
    const int64_t nr = std::min(s.rows, s.N - n0);
    for (int64_t v0 = 0; v0 < s.V; v0 += s.vocab) {
      const int64_t vc = std::min(s.vocab, s.V - v0);
      ops::matmul(stream, rows_of(x, n0, nr, s.C), rows_of(wte, v0, vc, s.C), logits_block(logits, s, n0, nr, v0, vc),
                  Layout::NT);
    }
  }
}

void lm_head_backward(vk::CommandStream& stream, const Tensor& x, const Tensor& dx, const Tensor& wte,
                      const Tensor& dwte, const Tensor& dlogits, uint64_t max_binding_bytes) {
  const Shape s = blocks_for(stream, x, wte, max_binding_bytes);
  for (int64_t n0 = 0; n0 < s.N; n0 += s.rows) {
    const int64_t nr = std::min(s.rows, s.N - n0);
    for (int64_t v0 = 0; v0 < s.V; v0 += s.vocab) {
      const int64_t vc = std::min(s.vocab, s.V - v0);
      const MatrixView dl = logits_block(dlogits, s, n0, nr, v0, vc);
      ops::matmul(stream, dl, rows_of(wte, v0, vc, s.C), rows_of(dx, n0, nr, s.C), Layout::NN, nullptr,
                  v0 > 0);  // dx (nr,C) (+)= dlogits · wte
      ops::matmul(stream, dl, rows_of(x, n0, nr, s.C), rows_of(dwte, v0, vc, s.C), Layout::TN, nullptr,
                  true);  // dwte (vc,C) += dlogitsᵀ · x
    }
  }
}

}  // namespace alpha::gpt
