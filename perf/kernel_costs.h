// The work each benchmarked kernel does: FLOPs (compute-bound kernels) and bytes of f32 traffic, as
// the counts the bench divides by time for GFLOP/s and GB/s. Pure arithmetic, checked by hand in
// tests/unit/test_flops.cpp; which shapes run and how they are timed is perf/kernel_bench.h's.
//
// Conventions: a multiply-add is 2 FLOPs; exp, tanh, divisions and reductions outside matmul-like
// products are not counted. Bytes are the least traffic the op needs: every input read once, every
// output written once, an accumulated output read and written (what the kernels re-read between
// their passes is not counted, so GB/s says how close the op is to the copy bandwidth).
#pragma once

#include <cstdint>

namespace alpha::perf {

enum class Bound { Compute, Memory };  // which ceiling a kernel is compared with

struct KernelWork {
  double flops = 0;  // 0 for memory-bound kernels (not counted)
  double bytes = 0;
  Bound bound = Bound::Memory;
};

constexpr double kF32 = 4;  // bytes per element (i32 targets too)

// c (M,N) = a·b with K the shared dimension: 2·M·N·K FLOPs; a, b read, c written.
constexpr KernelWork matmul_work(int64_t M, int64_t N, int64_t K) {
  return {2.0 * M * N * K, kF32 * (double(M) * K + double(K) * N + double(M) * N), Bound::Compute};
}

// Causal attention over B·NH heads of size HS and T positions: T(T+1)/2 (query, key) pairs per
// head. Forward per pair: the score q·k and the product p·v, 2·HS FLOPs each. Reads qkv (B,T,3C),
// writes out (B,T,C) and lse (B,NH,T), C = NH·HS.
constexpr double causal_pairs(int64_t B, int64_t NH, int64_t T) {
  return double(B) * NH * T * (T + 1) / 2.0;
}

constexpr KernelWork attention_forward_work(int64_t B, int64_t T, int64_t NH, int64_t HS) {
  const double C = double(NH) * HS;
  return {4.0 * HS * causal_pairs(B, NH, T), kF32 * (B * T * (3 * C + C) + double(B) * NH * T),
          Bound::Compute};
}

// Backward per pair, FlashAttention's count of five products of 2·HS FLOPs: the score recomputed,
// dP = dO·V, dV += P·dO, dQ += dS·K, dK += dS·Q (2.5× the forward). Reads dout, qkv, out, lse;
// writes dqkv.
constexpr KernelWork attention_backward_work(int64_t B, int64_t T, int64_t NH, int64_t HS) {
  const double C = double(NH) * HS;
  return {10.0 * HS * causal_pairs(B, NH, T),
          kF32 * (B * T * (C + 3 * C + C + 3 * C) + double(B) * NH * T), Bound::Compute};
}

// LayerNorm of N rows of C: reads x, weight, bias; writes out, mean, rstd.
constexpr KernelWork layernorm_forward_work(int64_t N, int64_t C) {
  return {0, kF32 * (2.0 * N * C + 2.0 * C + 2.0 * N), Bound::Memory};
}

// Reads dout, x, weight, mean, rstd; accumulates dx (N,C), dweight and dbias (C).
constexpr KernelWork layernorm_backward_work(int64_t N, int64_t C) {
  return {0, kF32 * (2.0 * N * C + C + 2.0 * N + 2.0 * N * C + 4.0 * C), Bound::Memory};
}

// GELU over n elements: forward reads x, writes out; backward reads x and dout, writes dx.
constexpr KernelWork gelu_forward_work(int64_t n) {
  return {0, kF32 * 2.0 * n, Bound::Memory};
}
constexpr KernelWork gelu_backward_work(int64_t n) {
  return {0, kF32 * 3.0 * n, Bound::Memory};
}

// SwiGLU of N rows: forward reads x (N, 2H), writes out (N, H); backward reads x and dout (N, H),
// writes dx (N, 2H).
constexpr KernelWork swiglu_forward_work(int64_t N, int64_t H) {
  return {0, kF32 * 3.0 * N * H, Bound::Memory};
}
constexpr KernelWork swiglu_backward_work(int64_t N, int64_t H) {
  return {0, kF32 * 5.0 * N * H, Bound::Memory};
}

// Softmax cross-entropy of N rows of V logits: reads logits and targets, writes losses and dlogits.
constexpr KernelWork softmax_xent_work(int64_t N, int64_t V) {
  return {0, kF32 * (2.0 * N * V + 2.0 * N), Bound::Memory};
}

// Squared global norm of P gradients: reads them once (the partial sums are a few KiB).
constexpr KernelWork grad_norm_work(int64_t P) {
  return {0, kF32 * double(P), Bound::Memory};
}

// AdamW over P parameters: reads params, grads, m, v; writes params, m, v.
constexpr KernelWork adamw_work(int64_t P) {
  return {0, kF32 * 7.0 * P, Bound::Memory};
}

// A copy of n floats: reads and writes each once.
constexpr KernelWork copy_work(int64_t n) {
  return {0, kF32 * 2.0 * n, Bound::Memory};
}

// GFLOP/s for a compute-bound kernel, GB/s for a memory-bound one, of `work` done in `ms`
// milliseconds.
constexpr double kernel_rate(const KernelWork& work, double ms) {
  return (work.bound == Bound::Compute ? work.flops : work.bytes) / (ms * 1e6);
}
constexpr const char* rate_unit(Bound bound) {
  return bound == Bound::Compute ? "GFLOP/s" : "GB/s";
}

}  // namespace alpha::perf
