// Arena: alignment, reuse and coalescing of freed ranges, extra blocks for large tensors, and
// uploads/downloads both through a direct mapping and through the staging buffer.
#include <doctest/doctest.h>

#include <cstdlib>

#include "engine/tensor.h"
#include "engine/vk/arena.h"
#include "engine/vk/context.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

TEST_CASE_FIXTURE(GpuFixture, "arena sub-allocates aligned ranges and coalesces frees") {
  auto& context = gpu();
  vk::Arena arena(context, 1 << 20);
  auto a = arena.allocate(100), b = arena.allocate(1000), c = arena.allocate(5000);
  CHECK(a.buffer == b.buffer);
  CHECK(a.offset % context.info().min_storage_buffer_offset_alignment == 0);
  CHECK(b.offset % 256 == 0);
  CHECK(b.offset >= a.offset + 100);
  CHECK(c.offset >= b.offset + 1000);
  CHECK(arena.block_count() == 1);
  const auto used = arena.used_bytes();
  arena.release(b);
  arena.release(a);  // a and b coalesce into one free range at the start
  CHECK(arena.used_bytes() == used - a.size - b.size);
  auto d = arena.allocate(a.size + b.size);
  CHECK(d.offset == a.offset);
  CHECK_THROWS_AS(arena.release(b), alpha::Error);  // b lies inside d now: a double free
  CHECK_THROWS_AS(arena.release(d.sub(0, 256)), alpha::Error);  // a sub-slice is not an allocation
  auto big = arena.allocate(3 << 20);        // larger than a block: gets its own
  CHECK(arena.block_count() == 2);
  CHECK(big.buffer != a.buffer);
  arena.release(big);
  arena.release(c);
  arena.release(d);
  CHECK(arena.used_bytes() == 0);
}

static void round_trip(vk::Context& context) {
  vk::Arena arena(context);
  // 70 MiB: more than the 64 MiB staging buffer, so a staged transfer takes two chunks.
  const int64_t n = (70 << 20) / 4 + 3;
  Tensor t = Tensor::empty(arena, {n});
  auto host = random_nonzero(n, 9);
  upload(arena, t, host);
  CHECK(download(arena, t) == host);
}

TEST_CASE_FIXTURE(GpuFixture, "upload and download round-trip through the default path") { round_trip(gpu()); }

TEST_CASE("upload and download round-trip through the staging buffer") {
  setenv("ALPHA_DISABLE_DIRECT_MAP", "1", 1);
  vk::ValidationLog log;
  {
    vk::Context context(validated(log));
    CHECK(context.switches().disable_direct_map);
    CHECK_FALSE(vk::Arena(context).direct_mapped());
    round_trip(context);
  }
  unsetenv("ALPHA_DISABLE_DIRECT_MAP");
  CHECK(log.count() == 0);
}

}  // namespace alpha::test
