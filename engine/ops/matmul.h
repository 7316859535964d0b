// Matmul launchers (shaders/matmul.comp, matmul_naive.comp). Row-major, tensors of rank >= 2
// are taken as (rows, cols) with rows = product of the leading dimensions. c and bias are f32; a
// and b are f32, or for mixed precision both f16 (forward: activations times the weights' f16 copy)
// or a f32 and b f16 (backward: f32 gradients times f16 weights or saved activations). Products and
// sums are f32 either way.
//   Layout::NN  c (M,N) = a (M,K) · b (K,N)
//   Layout::NT  c (M,N) = a (M,K) · bᵀ, b stored (N,K)   — a linear layer's forward, y = x·Wᵀ
//   Layout::TN  c (M,N) = aᵀ · b, a stored (K,M)         — a weight gradient, dW = dYᵀ·X
// Optional bias (N) is added to every row; accumulate adds the result to c instead of overwriting.
#pragma once

#include <optional>
#include <string>

#include "engine/ops/gelu.h"
#include "engine/ops/layernorm.h"
#include "engine/tensor.h"
#include "engine/vk/command_stream.h"

namespace alpha::ops {

enum class Layout { NN, NT, TN };

// At most this many rows of C take the decoding kernels (matvec_texel.comp, or the one-row CPU
// tile), which compute each row the same way whatever the row count: batched decoding relies on it.
constexpr int64_t kSkinnyRows = 4;

// Tile sizes: specialization constants of matmul.comp. Workgroup = (BM/TM)·(BN/TN) invocations.
struct MatmulTile {
  uint32_t bm, bn, bk, tm, tn;
  uint32_t threads() const { return (bm / tm) * (bn / tn); }
  // BN = TN: all invocations share the columns, the shape of matmul_cpu.comp's tiles.
  bool is_cpu_tile() const;
  std::string to_string() const;
};

// ALPHA_MATMUL_TILE=BMxBNxBKxTMxTN, else the device's tuned tile (matmul_tuning.h), else the one
// for its device class (see the table in matmul.cpp).
MatmulTile default_matmul_tile(const vk::CommandStream& stream);
// Parses "BMxBNxBKxTMxTN"; throws alpha::Error on a malformed or unusable tile.
MatmulTile parse_matmul_tile(const std::string& text);

// True when matmul() runs matmul_cpu.comp for this tile: a CPU device, a CPU-kernel tile, and
// ALPHA_DISABLE_CPU_MATMUL unset.
bool uses_cpu_matmul(const vk::CommandStream& stream, const MatmulTile& t);

struct MatrixView;
// True when matmul() with no tile asked for runs a texel kernel for these operands: a device with
// texel kernels (vk::Context::texel_kernels), shapes whose texels fit (see matmul.cpp), and
// ALPHA_MATMUL_TILE unset; matmul_texel.comp for more than 4 rows of C, matvec_texel.comp (NT only)
// for at most 4.
bool uses_texel_matmul(const vk::CommandStream& stream, const MatrixView& a, const MatrixView& b,
                       Layout layout, int64_t M, int64_t N, int64_t K);

// A row-major matrix inside a buffer: `rows` rows of `cols` elements, each row `ld` elements after
// the previous one (ld >= cols), so a column block of a wider matrix is a view too. The slice
// starts at element (0, 0) and must hold (rows-1)·ld + cols elements of dtype (f32, or f16 for a
// and b).
struct MatrixView {
  vk::BufferSlice slice;
  int64_t rows = 0, cols = 0, ld = 0;
  DType dtype = DType::f32;
  static MatrixView of(const Tensor& t);  // the whole tensor as (rows, cols), ld = cols
};

// Same as matmul() on views; a, b, c are the stored matrices (a is (K,M) for TN, b is (N,K) for NT).
void matmul(vk::CommandStream& stream, const MatrixView& a, const MatrixView& b, const MatrixView& c,
            Layout layout, const Tensor* bias = nullptr, bool accumulate = false,
            std::optional<MatmulTile> tile = std::nullopt);

void matmul(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& c, Layout layout,
            const Tensor* bias = nullptr, bool accumulate = false, std::optional<MatmulTile> tile = std::nullopt);

// Matrix cores (shaders/matmul_coopmat.comp): f16 operands (an f32 a is rounded to f16 as it is
// staged), f32 products summed in f32. matmul() takes it for a mixed-precision b (f16) on a device
// with cooperative matrices (vk::Context::coopmat_shape), so fp32 matmuls stay fp32. `emulated`
// runs the same kernel with its fragment primitives written as plain per-invocation code, on any
// device with 16-bit storage (the tests' way to check its tiling and indexing on lavapipe).
void matmul_coopmat(vk::CommandStream& stream, const MatrixView& a, const MatrixView& b,
                    const MatrixView& c, Layout layout, const Tensor* bias = nullptr,
                    bool accumulate = false, bool emulated = false);

// out (M,N) = norm(x) · wᵀ + bias, x (M,K), w (N,K): a LayerNorm or RMSNorm (norm_forward's
// kind, weight and bias, either may be nullptr) and the projection it feeds, as decoding runs them.
// On devices with texel kernels and at most 4 rows, one dispatch (matvec_texel.comp NORM, the
// normalisation applied as A is read; ln, mean and rstd are left untouched); otherwise
// norm_forward into ln (M,K), mean and rstd (M), then matmul.
// With act_out, act_out = act(out) as well (the MLP's first projection): the fused kernel applies
// it before storing and writes act_out only, the other path writes out and then act_out.
void norm_matmul_nt(vk::CommandStream& stream, NormKind kind, const Tensor& x,
                    const Tensor* norm_weight, const Tensor* norm_bias, const Tensor& w,
                    const Tensor& bias, const Tensor& out, const Tensor& ln, const Tensor& mean,
                    const Tensor& rstd, const Tensor* act_out = nullptr,
                    Activation act = Activation::gelu);
// norm_matmul_nt with a LayerNorm's weight and bias and GELU into gelu_out.
void layernorm_matmul_nt(vk::CommandStream& stream, const Tensor& x, const Tensor& ln_weight,
                         const Tensor& ln_bias, const Tensor& w, const Tensor& bias,
                         const Tensor& out, const Tensor& ln, const Tensor& mean,
                         const Tensor& rstd, const Tensor* gelu_out = nullptr);

// The untiled baseline (NN only, no bias): one invocation per output element.
void matmul_naive(vk::CommandStream& stream, const Tensor& a, const Tensor& b, const Tensor& c);

}  // namespace alpha::ops
