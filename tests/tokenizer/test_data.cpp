// Data pipeline: shards round-trip and refuse corruption; the token cache splits train/val,
// hits on unchanged inputs and misses on changed ones, and leaves nothing behind on bad input;
// the batch loader is deterministic, covers each window once per epoch and resumes exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"
#include "engine/train/data/batch_loader.h"
#include "engine/train/data/shard.h"
#include "engine/train/data/token_cache.h"
#include "test_support.h"
#include "tokenizer/file_io.h"
#include "tokenizer/text_inputs.h"

using namespace alpha::train::data;
namespace tok = alpha::tok;

static size_t entries(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir)) return 0;
  return size_t(std::distance(std::filesystem::directory_iterator(dir), {}));
}

TEST_CASE("shards round-trip as uint16 and uint32") {
  tok::test::TempDir dir;
  std::vector<uint32_t> small{0, 1, 65535, 42, 7}, big{0, 65536, 100000, 3};
  CHECK(shard_dtype_bytes(65536) == 2);
  CHECK(shard_dtype_bytes(65537) == 4);
  write_shard(dir.path / "a", small, 2);
  write_shard(dir.path / "b", big, 4);
  std::vector<uint32_t> out;
  read_shard(dir.path / "a", out);
  CHECK(out == small);
  out.clear();
  read_shard(dir.path / "b", out);
  CHECK(out == big);
  CHECK_THROWS_AS(write_shard(dir.path / "c", big, 2), alpha::Error);
}

TEST_CASE("corrupt shards are refused") {
  tok::test::TempDir dir;
  std::vector<uint32_t> tokens(5000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = uint32_t(i * 7919 % 50000);
  write_shard(dir.path / "s", tokens, 2);
  std::string bytes = tok::read_file(dir.path / "s");
  std::vector<uint32_t> out;
  auto try_read = [&](std::string b) {
    tok::write_file_atomic(dir.path / "bad", b);
    out.clear();
    read_shard(dir.path / "bad", out);
  };
  std::string flipped = bytes;
  flipped.back() ^= 1;
  CHECK_THROWS_WITH_AS(try_read(flipped), doctest::Contains("corrupt"), alpha::Error);
  CHECK_THROWS_WITH_AS(try_read(bytes.substr(0, bytes.size() - 3)), doctest::Contains("truncated"),
                       alpha::Error);
  CHECK_THROWS_WITH_AS(try_read("nonsense"), doctest::Contains("not a token shard"), alpha::Error);
}

TEST_CASE("token cache: split, hit, miss, and no partial entries") {
  tok::test::TempDir dir;
  const tok::Tokenizer& t = tok::test::small_tokenizer();
  const auto input = (dir.path / "in" / "a.txt").string();
  tok::write_file_atomic(input, tok::test::synthetic_text(31, 200000));
  tok::write_file_atomic(
      dir.path / "in" / "b.jsonl",
      "{\"text\": \"first doc\"}\n\n{\"text\": \"second \\u00e9 doc\", \"id\": 2}\n");
  PrepareOptions options;
  options.cache_dir = dir.path / "cache";
  options.val_fraction = 0.1;
  options.shard_tokens = 10000;  // several shards
  PreparedData d = prepare_data({(dir.path / "in").string()}, t, options);
  CHECK(!d.cache_hit);
  CHECK(d.documents == 3);
  CHECK(d.train_shards.size() > 1);
  CHECK(d.dtype_bytes == 2);
  // The shards hold exactly the encoded documents, each after the separator.
  std::string a = tok::read_file(input);
  std::vector<std::string_view> docs{a, "first doc", "second \xc3\xa9 doc"};
  std::vector<uint32_t> expected = t.encode_documents(docs, *t.special_id("<|bos|>"));
  std::vector<uint32_t> train = load_split(d, Split::train), val = load_split(d, Split::val);
  CHECK(val.size() == size_t(std::ceil(expected.size() * 0.1)));
  train.insert(train.end(), val.begin(), val.end());
  CHECK(train == expected);

  PreparedData again = prepare_data({(dir.path / "in").string()}, t, options);
  CHECK(again.cache_hit);
  CHECK(again.dir == d.dir);

  tok::write_file_atomic(input, tok::test::synthetic_text(32, 200000));
  PreparedData changed = prepare_data({(dir.path / "in").string()}, t, options);
  CHECK(!changed.cache_hit);
  CHECK(changed.dir != d.dir);
  CHECK(entries(options.cache_dir) == 2);

  // Bad inputs: clear errors, and the cache folder gains nothing.
  tok::write_file_atomic(dir.path / "bad" / "x.jsonl",
                         "{\"text\": \"ok\"}\n{\"body\": \"no text\"}\n");
  CHECK_THROWS_WITH_AS(prepare_data({(dir.path / "bad" / "x.jsonl").string()}, t, options),
                       doctest::Contains("x.jsonl:2: JSON line has no \"text\" field"),
                       alpha::Error);
  tok::write_file_atomic(dir.path / "bad" / "empty.txt", "");
  CHECK_THROWS_WITH_AS(prepare_data({(dir.path / "bad" / "empty.txt").string()}, t, options),
                       doctest::Contains("empty"), alpha::Error);
  tok::write_file_atomic(dir.path / "bad" / "bin.dat", std::string("\x7f"
                                                                   "ELF\0\0\1",
                                                                   7));
  CHECK_THROWS_WITH_AS(prepare_data({(dir.path / "bad" / "bin.dat").string()}, t, options),
                       doctest::Contains("binary"), alpha::Error);
  CHECK_THROWS_WITH_AS(prepare_data({(dir.path / "nope" / "*.txt").string()}, t, options),
                       doctest::Contains("matches no files"), alpha::Error);
  CHECK_THROWS_WITH_AS(prepare_data({(dir.path / "missing.txt").string()}, t, options),
                       doctest::Contains("no such file"), alpha::Error);
  CHECK(entries(options.cache_dir) == 2);
}

static std::vector<uint32_t> counting_tokens(size_t n) {
  std::vector<uint32_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint32_t(i);
  return v;
}

TEST_CASE("batch loader: windows, determinism, epochs") {
  const size_t B = 3, T = 8, N = 8 * 20 + 1;  // exactly 20 windows
  BatchLoader a(counting_tokens(N), B, T, 42), b(counting_tokens(N), B, T, 42),
      c(counting_tokens(N), B, T, 43);
  CHECK(a.windows_per_epoch() == 20);
  std::multiset<int32_t> starts;
  bool differs = false;
  for (int step = 0; step < 20; ++step) {  // 60 windows = 3 epochs
    auto x = a.next(), y = b.next(), z = c.next();
    REQUIRE(x == y);
    differs |= x != z;
    for (size_t r = 0; r < B; ++r) {
      int32_t s = x[r * (T + 1)];
      REQUIRE(s % int32_t(T) == 0);
      for (size_t t = 0; t <= T; ++t) REQUIRE(x[r * (T + 1) + t] == s + int32_t(t));  // contiguous
      starts.insert(s);
    }
  }
  CHECK(differs);
  for (int32_t k = 0; k < 20; ++k) CHECK(starts.count(k * int32_t(T)) == 3);  // once per epoch
  CHECK(a.state().epoch == 2);  // the next epoch starts lazily, on the next window
  CHECK(a.state().index == 20);
  CHECK_THROWS_WITH_AS(BatchLoader(counting_tokens(8), 1, 8, 1), doctest::Contains("too few"),
                       alpha::Error);
}

TEST_CASE("batch loader: restore continues bit-exactly") {
  const size_t B = 4, T = 16;
  auto tokens = counting_tokens(16 * 37 + 5);
  BatchLoader run(tokens, B, T, 7);
  for (int i = 0; i < 11; ++i) run.next();  // crosses an epoch boundary (37 windows)
  LoaderState saved = run.state();
  std::vector<std::vector<int32_t>> expected;
  for (int i = 0; i < 25; ++i) expected.push_back(run.next());

  nlohmann::json j = to_json(saved);
  BatchLoader resumed(tokens, B, T, 999);  // seed comes from the state
  resumed.restore(loader_state_from_json(nlohmann::json::parse(j.dump())));
  CHECK(resumed.state() == saved);
  for (int i = 0; i < 25; ++i) REQUIRE(resumed.next() == expected[i]);

  BatchLoader other(counting_tokens(16 * 30 + 1), B, T, 7);
  CHECK_THROWS_WITH_AS(other.restore(saved), doctest::Contains("changed"), alpha::Error);
  CHECK_THROWS_AS(loader_state_from_json(nlohmann::json::parse("{\"seed\": 1}")), alpha::Error);
}

TEST_CASE("inputs: folders take text-like files only, globs and explicit files anything") {
  tok::test::TempDir dir;
  tok::write_file_atomic(dir.path / "d" / "a.txt", "alpha text");
  tok::write_file_atomic(dir.path / "d" / "sub" / "b.jsonl", "{\"text\": \"beta\"}\n");
  tok::write_file_atomic(dir.path / "d" / "README", "no extension");
  tok::write_file_atomic(dir.path / "d" / "cache" / "x" / "train_0000.tok.zst", "zstd bytes");
  tok::write_file_atomic(dir.path / "d" / ".hidden.txt", "hidden");
  tok::write_file_atomic(dir.path / "d" / "notes.csv", "a,b");
  auto files = tok::expand_inputs({(dir.path / "d").string()});
  std::vector<std::string> names;
  for (auto& f : files) names.push_back(std::filesystem::path(f).filename().string());
  CHECK(names == std::vector<std::string>{"README", "a.txt", "b.jsonl"});
  CHECK(tok::expand_inputs({(dir.path / "d" / "*.csv").string()}).size() == 1);
  CHECK(tok::expand_inputs({(dir.path / "d" / "notes.csv").string()}).size() == 1);
  tok::write_file_atomic(dir.path / "e" / "only.bin", "x");
  CHECK_THROWS_WITH_AS(tok::expand_inputs({(dir.path / "e").string()}),
                       doctest::Contains("no text files"), alpha::Error);
}
