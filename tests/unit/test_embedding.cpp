// embedding_forward and embedding_backward against CPU references: odd sizes, T < maxT, many
// positions sharing a token, accumulation into non-zero gradients, vocabulary splits and replays
// bit for bit.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <random>

#include "engine/ops/embedding.h"
#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/command_stream.h"
#include "tests/unit/check_close.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

struct EmbeddingCase {
  int64_t B, T, max_t, C, V;
  int32_t
      used_tokens;  // tokens are drawn from [0, used_tokens): rows >= used_tokens get no gradient
};

// B=3, T=37 < maxT=48, C=48, V=13 with only 5 tokens used: each used token appears ~22 times.
// B=1, T=1 (N = 1), C=101. B=2, T=29, C=101, V=300: mostly distinct tokens.
static const EmbeddingCase kCases[] = {
    {3, 37, 48, 48, 13, 5}, {1, 1, 3, 101, 7, 7}, {2, 29, 29, 101, 300, 300}};

static std::vector<int32_t> random_tokens(int64_t n, int32_t used, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, used - 1);
  std::vector<int32_t> tokens(n);
  for (auto& t : tokens) t = dist(rng);
  return tokens;
}

struct EmbeddingRun {
  std::vector<float> out, dwte, dwpe;
};

// Uploads every input (gradients start at random non-zero values), runs forward and backward,
// downloads.
struct EmbeddingFixture {
  const EmbeddingCase& c;
  vk::Arena arena;
  Tensor tokens, wte, wpe, out, dwte, dwpe;
  std::vector<int32_t> tokens_host = random_tokens(c.B * c.T, c.used_tokens, 31);
  std::vector<float> wte_host = random_nonzero(c.V * c.C, 32),
                     wpe_host = random_nonzero(c.max_t * c.C, 33);
  std::vector<float> dout_host = random_nonzero(c.B * c.T * c.C, 34);
  std::vector<float> dwte0 = random_nonzero(c.V * c.C, 35),
                     dwpe0 = random_nonzero(c.max_t * c.C, 36);

  EmbeddingFixture(vk::Context& context, const EmbeddingCase& c_)
      : c(c_),
        arena(context),
        tokens(Tensor::empty(arena, {c.B, c.T}, DType::i32)),
        wte(Tensor::empty(arena, {c.V, c.C})),
        wpe(Tensor::empty(arena, {c.max_t, c.C})),
        out(Tensor::empty(arena, {c.B, c.T, c.C})),
        dwte(Tensor::empty(arena, {c.V, c.C})),
        dwpe(Tensor::empty(arena, {c.max_t, c.C})) {
    upload(arena, tokens, std::span<const int32_t>(tokens_host));
    upload(arena, wte, wte_host);
    upload(arena, wpe, wpe_host);
  }

  // The backward reads dout from `out`'s buffer: the forward result is overwritten first.
  // positions false: no position table (rotary models), nullptr for wpe and dwpe.
  EmbeddingRun run(vk::Context& context, std::optional<uint32_t> vocab_parts = {}, uint64_t max_binding_bytes = 0,
                   bool positions = true) {
    const Tensor* wpe_or_none = positions ? &wpe : nullptr;
    const Tensor* dwpe_or_none = positions ? &dwpe : nullptr;
    upload(arena, dwte, dwte0);
    upload(arena, dwpe, dwpe0);
    vk::CommandStream stream(context);
    ops::embedding_forward(stream, tokens, wte, wpe_or_none, out, max_binding_bytes);
    stream.submit();
    EmbeddingRun r;
    r.out = download(arena, out);
    upload(arena, out, dout_host);
    vk::CommandStream backward(context);
    if (vocab_parts)
      ops::embedding_backward_in_parts(backward, tokens, out, dwte, dwpe_or_none, *vocab_parts, max_binding_bytes);
    else
      ops::embedding_backward(backward, tokens, out, dwte, dwpe_or_none, max_binding_bytes);
    backward.submit();
    r.dwte = download(arena, dwte);
    r.dwpe = download(arena, dwpe);
    return r;
  }
};


TEST_CASE_FIXTURE(GpuFixture, "embedding forward and backward match CPU references") {
  auto& context = gpu();
  for (const auto& c : kCases) {
    CAPTURE(fmt::format("B={} T={} maxT={} C={} V={} used tokens={}", c.B, c.T, c.max_t, c.C, c.V,
                        c.used_tokens));
    EmbeddingFixture f(context, c);
    const auto got = f.run(context);

    // Forward: one fp32 addition per element, the same one the kernel does: bit-exact.
    int64_t mismatches = 0, first_mismatch = -1;
    for (int64_t n = 0; n < c.B * c.T; ++n)
      for (int64_t ch = 0; ch < c.C; ++ch) {
        const float want =
            f.wte_host[f.tokens_host[n] * c.C + ch] + f.wpe_host[(n % c.T) * c.C + ch];
        if (got.out[n * c.C + ch] != want && mismatches++ == 0) first_mismatch = n * c.C + ch;
      }
    INFO("first forward mismatch at ", first_mismatch);
    CHECK(mismatches == 0);

    // Backward reference in double; tolerance: fp32 summation of k terms errs by at most
    // k·2^-24·sum|terms| in any order (k = terms + 1 for the old value); a dropped or doubled term
    // misses by >= 0.05 (random_nonzero's smallest magnitude).
    std::vector<double> dwte(f.dwte0.begin(), f.dwte0.end()), dwpe(f.dwpe0.begin(), f.dwpe0.end());
    std::vector<double> dwte_mag(dwte.size()), dwpe_mag(dwpe.size()), dwte_terms(dwte.size(), 1),
        dwpe_terms(dwpe.size(), 1);
    for (size_t i = 0; i < dwte.size(); ++i) dwte_mag[i] = std::abs(dwte[i]);
    for (size_t i = 0; i < dwpe.size(); ++i) dwpe_mag[i] = std::abs(dwpe[i]);
    for (int64_t n = 0; n < c.B * c.T; ++n)
      for (int64_t ch = 0; ch < c.C; ++ch) {
        const double d = f.dout_host[n * c.C + ch];
        const int64_t v = f.tokens_host[n] * c.C + ch, t = (n % c.T) * c.C + ch;
        dwte[v] += d, dwte_mag[v] += std::abs(d), dwte_terms[v] += 1;
        dwpe[t] += d, dwpe_mag[t] += std::abs(d), dwpe_terms[t] += 1;
      }
    std::vector<double> dwte_tol(dwte.size()), dwpe_tol(dwpe.size());
    for (size_t i = 0; i < dwte.size(); ++i)
      dwte_tol[i] = dwte_terms[i] * std::ldexp(1.0, -24) * dwte_mag[i] + 1e-30;
    for (size_t i = 0; i < dwpe.size(); ++i)
      dwpe_tol[i] = dwpe_terms[i] * std::ldexp(1.0, -24) * dwpe_mag[i] + 1e-30;
    check_close("dwte", got.dwte, dwte, dwte_tol);
    check_close("dwpe", got.dwpe, dwpe, dwpe_tol);

    // Rows that receive no gradient (unused tokens, positions >= T) keep their old bits exactly.
    CHECK(std::memcmp(got.dwte.data() + c.used_tokens * c.C, f.dwte0.data() + c.used_tokens * c.C,
                      (c.V - c.used_tokens) * c.C * sizeof(float)) == 0);
    CHECK(std::memcmp(got.dwpe.data() + c.T * c.C, f.dwpe0.data() + c.T * c.C,
                      (c.max_t - c.T) * c.C * sizeof(float)) == 0);
  }
}

// Rotary models have no position table: out is the token's row bit for bit, dwte is what it is with
// a table (it never depends on wpe), and the position gradient is not touched.
TEST_CASE_FIXTURE(GpuFixture, "embedding without a position table") {
  auto& context = gpu();
  for (const auto& c : kCases) {
    CAPTURE(fmt::format("B={} T={} C={} V={}", c.B, c.T, c.C, c.V));
    EmbeddingFixture f(context, c);
    const auto with = f.run(context);
    for (uint64_t limit : {uint64_t(0), uint64_t(c.C * sizeof(float) * 4)}) {  // one binding, blocks
      const auto without = f.run(context, {}, limit, false);
      int64_t mismatches = 0;
      for (int64_t n = 0; n < c.B * c.T; ++n)
        for (int64_t ch = 0; ch < c.C; ++ch)
          mismatches += without.out[n * c.C + ch] != f.wte_host[f.tokens_host[n] * c.C + ch];
      CHECK(mismatches == 0);
      CHECK(std::memcmp(without.dwte.data(), with.dwte.data(), with.dwte.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(without.dwpe.data(), f.dwpe0.data(), f.dwpe0.size() * sizeof(float)) == 0);
    }
  }
}

// A decoding step's rows (token, position, slot, 0): out[r] = wte[token] + wpe[position], the
// float sum a one-token embedding_forward with wpe from row `position` on gives, with and without a
// position table, the table in one binding and in blocks. V = 37, C = 52: off every tile.
TEST_CASE_FIXTURE(GpuFixture, "embedding of a decoding step's rows at their own positions") {
  auto& context = gpu();
  const int64_t V = 37, C = 52, maxT = 11;
  const std::vector<int32_t> rows_host = {5, 10, 2,  0, 36, 0, 0, 0, 0, 3,
                                          1, 0,  17, 7, 3,  0, 5, 4, 4, 0};
  const int64_t R = static_cast<int64_t>(rows_host.size()) / 4;
  const auto wte_host = random_nonzero(V * C, 41), wpe_host = random_nonzero(maxT * C, 42);
  vk::Arena arena(context);
  Tensor rows = Tensor::empty(arena, {R, 4}, DType::i32), wte = Tensor::empty(arena, {V, C});
  Tensor wpe = Tensor::empty(arena, {maxT, C}), out = Tensor::empty(arena, {R, C});
  arena.upload(rows.slice, rows_host.data(), rows_host.size() * sizeof(int32_t));
  upload(arena, wte, wte_host);
  upload(arena, wpe, wpe_host);
  for (const bool positions : {true, false})
    for (const uint64_t limit : {uint64_t(0), uint64_t(C * sizeof(float) * 4)}) {
      CAPTURE(positions);
      CAPTURE(limit);
      upload(arena, out, random_nonzero(out.numel(), 43));
      vk::CommandStream stream(context);
      ops::embedding_rows_forward(stream, rows, wte, positions ? &wpe : nullptr, out, limit);
      stream.submit();
      const auto got = download(arena, out);
      int64_t mismatches = 0;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c) {
          const float position = positions ? wpe_host[rows_host[r * 4 + 1] * C + c] : 0.0f;
          mismatches += got[r * C + c] != wte_host[rows_host[r * 4] * C + c] + position;
        }
      CHECK(mismatches == 0);
    }
}

TEST_CASE_FIXTURE(GpuFixture,
                  "embedding backward is bit-identical across runs and vocabulary splits") {
  auto& context = gpu();
  const EmbeddingCase c{3, 37, 48, 48, 13, 5};
  EmbeddingFixture f(context, c);
  const auto first = f.run(context);
  for (std::optional<uint32_t> parts : {std::optional<uint32_t>{}, std::optional<uint32_t>{1},
                                        std::optional<uint32_t>{4}, std::optional<uint32_t>{13}}) {
    CAPTURE(parts.value_or(0));
    const auto again = f.run(context, parts);
    CHECK(std::memcmp(again.dwte.data(), first.dwte.data(), first.dwte.size() * sizeof(float)) ==
          0);
    CHECK(std::memcmp(again.dwpe.data(), first.dwpe.data(), first.dwpe.size() * sizeof(float)) ==
          0);
  }
}

// A table larger than one binding (GPT-2's wte on lavapipe) is bound in row blocks: with a small
// binding limit forced, forward and backward must give the same bits as one binding.
TEST_CASE_FIXTURE(GpuFixture, "embedding bound in row blocks matches one binding bit for bit") {
  auto& context = gpu();
  const EmbeddingCase c{3, 37, 48, 48, 13, 5};
  EmbeddingFixture f(context, c);
  const auto whole = f.run(context);
  const uint64_t row_bytes = c.C * sizeof(float);
  for (uint64_t limit : {row_bytes * 4, row_bytes * 5}) {  // 4 and 3 blocks for V = 13
    CAPTURE(limit);
    for (std::optional<uint32_t> parts : {std::optional<uint32_t>{}, std::optional<uint32_t>{3}}) {
      const auto blocks = f.run(context, parts, limit);
      CHECK(std::memcmp(blocks.out.data(), whole.out.data(), whole.out.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(blocks.dwte.data(), whole.dwte.data(), whole.dwte.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(blocks.dwpe.data(), whole.dwpe.data(), whole.dwpe.size() * sizeof(float)) == 0);
    }
  }
}

TEST_CASE_FIXTURE(GpuFixture,
                  "embedding gives NaN rows for tokens outside [0, V) and skips them backward") {
  auto& context = gpu();
  vk::Arena arena(context);
  const int64_t T = 3, C = 5, V = 4;
  Tensor tokens = Tensor::empty(arena, {1, T}, DType::i32), wte = Tensor::empty(arena, {V, C});
  Tensor wpe = Tensor::empty(arena, {T, C}), out = Tensor::empty(arena, {1, T, C});
  Tensor dwte = Tensor::empty(arena, {V, C}), dwpe = Tensor::empty(arena, {T, C});
  const std::vector<int32_t> ids{2, V, -1};
  upload(arena, tokens, std::span<const int32_t>(ids));
  upload(arena, wte, random_nonzero(V * C, 37));
  upload(arena, wpe, random_nonzero(T * C, 38));
  const auto dwte0 = random_nonzero(V * C, 39);
  upload(arena, dwte, dwte0);
  upload(arena, dwpe, random_nonzero(T * C, 40));
  vk::CommandStream stream(context);
  ops::embedding_forward(stream, tokens, wte, &wpe, out);
  ops::embedding_backward(stream, tokens, wpe, dwte, &dwpe);  // any (T, C) tensor will do as dout
  stream.submit();
  const auto got = download(arena, out), grad = download(arena, dwte);
  for (int64_t ch = 0; ch < C; ++ch) {
    CHECK(std::isfinite(got[ch]));
    CHECK(std::isnan(got[C + ch]));
    CHECK(std::isnan(got[2 * C + ch]));
  }
  for (int64_t i = 0; i < V * C; ++i)
    if (i / C != 2) CHECK(grad[i] == dwte0[i]);  // only token 2's row moved
}

TEST_CASE_FIXTURE(GpuFixture, "embedding refuses shapes that do not fit") {
  auto& context = gpu();
  vk::Arena arena(context);
  Tensor tokens = Tensor::empty(arena, {2, 8}, DType::i32), wte = Tensor::empty(arena, {10, 6});
  Tensor short_wpe = Tensor::empty(arena, {7, 6}), wpe = Tensor::empty(arena, {8, 6});
  Tensor out = Tensor::empty(arena, {2, 8, 6}), wrong_out = Tensor::empty(arena, {2, 8, 5});
  Tensor float_tokens = Tensor::empty(arena, {2, 8});
  vk::CommandStream stream(context);
  CHECK_THROWS_WITH_AS(ops::embedding_forward(stream, tokens, wte, &short_wpe, out),
                       doctest::Contains("maxT >= 8"), alpha::Error);
  CHECK_THROWS_AS(ops::embedding_forward(stream, tokens, wte, &wpe, wrong_out), alpha::Error);
  CHECK_THROWS_WITH_AS(ops::embedding_forward(stream, float_tokens, wte, &wpe, out),
                       doctest::Contains("i32"), alpha::Error);
  CHECK_THROWS_AS(ops::embedding_backward_in_parts(stream, tokens, out, wte, &wpe, 11), alpha::Error);
}

}  // namespace alpha::test
