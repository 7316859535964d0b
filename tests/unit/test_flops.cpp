// Training FLOPs per token (PaLM/nanoGPT convention, perf/flops.h) against a hand count for d2, and
// MFU for given numbers. Pure arithmetic: no device. The config-to-N step is checked by test_cli.sh.
#include <doctest/doctest.h>

#include "perf/flops.h"

namespace alpha::test {

TEST_CASE("training FLOPs per token of d2 (V = 4096, T = 256) match a hand count") {
  // d2: L = 2, C = 128, H = 2, Q = C/H = 64, V = 4096, T = 256.
  //   wte           V·C                        = 4096·128              =   524288 (tied LM head: counts)
  //   wpe           T·C                        = 256·128               =    32768 (lookup: not counted)
  //   one block     12·C² + 13·C               = 196608 + 1664         =   198272
  //     (qkv 3C·C+3C = 49536, proj C·C+C = 16512, fc 4C·C+4C = 66048, fc_proj 4C·C+C = 65664,
  //      ln_1 + ln_2 4C = 512)
  //   two blocks                                                       =   396544
  //   ln_f          2C                                                 =      256
  //   N = 524288 + 396544 + 256                                        =   921088
  //   6·N                                      = 6·921088              =  5526528
  //   12·L·H·Q·T                               = 12·2·2·64·256         =   786432
  //   FLOPs per token                          = 5526528 + 786432      =  6312960
  constexpr int64_t N = 921088;
  static_assert(perf::train_flops_per_token(N, 2, 2, 64, 256) == 6312960.0);
  CHECK(perf::train_flops_per_token(N, 2, 2, 64, 256) == doctest::Approx(6312960.0));
  // One step of B = 8 sequences: 8·256 tokens · 6312960 = 12 928 942 080 FLOPs.
  CHECK(8 * 256 * perf::train_flops_per_token(N, 2, 2, 64, 256) == doctest::Approx(12928942080.0));
}

TEST_CASE("MFU is achieved over peak FLOP/s") {
  // 12.93 GFLOP per step at 400 ms/step = 32.32 GFLOP/s achieved; peak 80.8 GFLOP/s -> 0.4.
  CHECK(perf::mfu(12.928e9 / 0.4, 80.8e9) == doctest::Approx(0.4));
  CHECK(perf::mfu(5.0, 10.0) == doctest::Approx(0.5));
  CHECK(perf::mfu(5.0, 0.0) == 0.0);  // no peak measured
}

}  // namespace alpha::test
