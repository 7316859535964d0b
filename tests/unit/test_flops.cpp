// Training FLOPs per token (PaLM/nanoGPT convention, engine/gpt/flops.h) against a hand count for d2, MFU
// for given numbers, and each benchmarked kernel's FLOP and byte counts (perf/kernel_costs.h)
// against hand counts. Pure arithmetic: no device. The config-to-N step is checked by
// tests/cli/test_bench.sh.
#include <doctest/doctest.h>

#include <string>

#include "engine/gpt/flops.h"
#include "perf/kernel_costs.h"

namespace alpha::test {

TEST_CASE("training FLOPs per token of d2 (V = 4096, T = 256) match a hand count") {
  // d2: L = 2, C = 128, H = 2, Q = C/H = 64, V = 4096, T = 256.
  //   wte           V·C                        = 4096·128              =   524288 (tied LM head:
  //   counts) wpe           T·C                        = 256·128               =    32768 (lookup:
  //   not counted) one block     12·C² + 13·C               = 196608 + 1664         =   198272
  //     (qkv 3C·C+3C = 49536, proj C·C+C = 16512, fc 4C·C+4C = 66048, fc_proj 4C·C+C = 65664,
  //      ln_1 + ln_2 4C = 512)
  //   two blocks                                                       =   396544
  //   ln_f          2C                                                 =      256
  //   N = 524288 + 396544 + 256                                        =   921088
  //   6·N                                      = 6·921088              =  5526528
  //   12·L·H·Q·T                               = 12·2·2·64·256         =   786432
  //   FLOPs per token                          = 5526528 + 786432      =  6312960
  constexpr int64_t N = 921088;
  static_assert(gpt::train_flops_per_token(N, 2, 2, 64, 256) == 6312960.0);
  CHECK(gpt::train_flops_per_token(N, 2, 2, 64, 256) == doctest::Approx(6312960.0));
  // One step of B = 8 sequences: 8·256 tokens · 6312960 = 12 928 942 080 FLOPs.
  CHECK(8 * 256 * gpt::train_flops_per_token(N, 2, 2, 64, 256) == doctest::Approx(12928942080.0));
}

TEST_CASE("MFU is achieved over peak FLOP/s") {
  // 12.93 GFLOP per step at 400 ms/step = 32.32 GFLOP/s achieved; peak 80.8 GFLOP/s -> 0.4.
  CHECK(gpt::mfu(12.928e9 / 0.4, 80.8e9) == doctest::Approx(0.4));
  CHECK(gpt::mfu(5.0, 10.0) == doctest::Approx(0.5));
  CHECK(gpt::mfu(5.0, 0.0) == 0.0);  // no peak measured
}

TEST_CASE("matmul and attention FLOPs and bytes match a hand count") {
  // c (2,3) = a (2,4) · b (4,3): 2·3·4 multiply-adds = 48 FLOPs; 8 + 12 + 6 = 26 floats = 104
  // bytes.
  static_assert(perf::matmul_work(2, 3, 4).flops == 48 && perf::matmul_work(2, 3, 4).bytes == 104);
  CHECK(perf::matmul_work(2, 3, 4).bound == perf::Bound::Compute);

  // Attention B = 2, T = 4, NH = 3, HS = 8 (C = 24): causal pairs per head 1+2+3+4 = 10, 60 in all.
  //   forward  4·HS per pair (score q·k, then p·v)          = 32·60  = 1920 FLOPs
  //   backward 10·HS per pair (five products)                 = 80·60  = 4800 FLOPs
  //   forward bytes:  qkv 8·72 + out 8·24 + lse 2·3·4 = 576 + 192 + 24 = 792 floats  = 3168
  //   backward bytes: dout 192 + qkv 576 + out 192 + lse 24 + dqkv 576 = 1560 floats = 6240
  static_assert(perf::causal_pairs(2, 3, 4) == 60);
  constexpr auto fwd = perf::attention_forward_work(2, 4, 3, 8);
  constexpr auto bwd = perf::attention_backward_work(2, 4, 3, 8);
  CHECK(fwd.flops == 1920);
  CHECK(fwd.bytes == 3168);
  CHECK(bwd.flops == 4800);
  CHECK(bwd.bytes == 6240);
  CHECK(bwd.flops == doctest::Approx(2.5 * fwd.flops));
  // d12 at B = 8, T = 256 (NH = 12, HS = 64): 8·12·256·257/2 = 3158016 pairs; 256 FLOPs each.
  CHECK(perf::attention_forward_work(8, 256, 12, 64).flops == 808452096.0);
}

TEST_CASE("memory-bound kernels' bytes match a hand count") {
  // LayerNorm N = 5, C = 7. Forward: x 35 + weight 7 + bias 7 + out 35 + mean 5 + rstd 5 = 94
  // floats.
  CHECK(perf::layernorm_forward_work(5, 7).bytes == 376);
  // Backward: dout 35 + x 35 + weight 7 + mean 5 + rstd 5 + dx read and written 70
  //           + dweight, dbias read and written 28 = 185 floats.
  CHECK(perf::layernorm_backward_work(5, 7).bytes == 740);
  CHECK(perf::layernorm_backward_work(5, 7).flops == 0);
  CHECK(perf::layernorm_backward_work(5, 7).bound == perf::Bound::Memory);
  // GELU over 100 elements: forward x in, out = 200 floats; backward x, dout in, dx out = 300.
  CHECK(perf::gelu_forward_work(100).bytes == 800);
  CHECK(perf::gelu_backward_work(100).bytes == 1200);
  // SwiGLU N = 5, H = 7: forward x (5, 14) 70 in + out 35 = 105 floats; backward x 70 + dout 35 in,
  // dx 70 out = 175 floats.
  CHECK(perf::swiglu_forward_work(5, 7).bytes == 420);
  CHECK(perf::swiglu_backward_work(5, 7).bytes == 700);
  // Softmax cross-entropy N = 3, V = 11: logits 33 + dlogits 33 + targets 3 + losses 3 = 72 words.
  CHECK(perf::softmax_xent_work(3, 11).bytes == 288);
  // P = 1000 parameters: the norm reads the gradients (1000 floats); AdamW reads params, grads, m,
  // v and writes params, m, v (7000 floats). A copy of 1000 floats moves 2000.
  CHECK(perf::grad_norm_work(1000).bytes == 4000);
  CHECK(perf::adamw_work(1000).bytes == 28000);
  CHECK(perf::copy_work(1000).bytes == 8000);
}

TEST_CASE("a kernel's rate is FLOP/s or bytes/s by its bound, in units of 10^9") {
  // 2 GFLOP in 500 ms = 4 GFLOP/s; 3 GB in 1.5 s = 2 GB/s.
  CHECK(perf::kernel_rate({2e9, 1e9, perf::Bound::Compute}, 500) == doctest::Approx(4.0));
  CHECK(perf::kernel_rate({0, 3e9, perf::Bound::Memory}, 1500) == doctest::Approx(2.0));
  CHECK(std::string(perf::rate_unit(perf::Bound::Compute)) == "GFLOP/s");
  CHECK(std::string(perf::rate_unit(perf::Bound::Memory)) == "GB/s");
}

}  // namespace alpha::test
