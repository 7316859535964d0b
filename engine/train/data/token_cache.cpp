// prepare_data: key computation, tokenisation (documents in parallel, each preceded by the
// separator token), the tail validation split, shard writing into a temp folder that is
// renamed into place, and the manifest.
#include "engine/train/data/token_cache.h"

#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "engine/train/data/shard.h"
#include "tokenizer/file_io.h"
#include "tokenizer/hash.h"
#include "tokenizer/text_inputs.h"

namespace alpha::train::data {
namespace {

constexpr int kManifestVersion = 1;

std::vector<std::filesystem::path> write_split(const std::filesystem::path& dir, const char* name,
                                               std::span<const uint32_t> tokens,
                                               uint64_t shard_tokens, uint32_t dtype,
                                               nlohmann::json& files) {
  std::vector<std::filesystem::path> paths;
  for (uint64_t start = 0, i = 0; start < tokens.size(); start += shard_tokens, ++i) {
    auto file = fmt::format("{}_{:04}.tok.zst", name, i);
    write_shard(dir / file,
                tokens.subspan(start, std::min<uint64_t>(shard_tokens, tokens.size() - start)),
                dtype);
    files.push_back(file);
    paths.push_back(dir / file);
  }
  return paths;
}

}  // namespace

uint32_t document_separator(const tok::Tokenizer& tokenizer) {
  if (auto id = tokenizer.special_id("<|bos|>")) return *id;
  if (auto id = tokenizer.special_id("<|endoftext|>")) return *id;
  fail("the tokenizer has neither <|bos|> nor <|endoftext|> to separate documents");
}

PreparedData prepare_data(const std::vector<std::string>& inputs, const tok::Tokenizer& tokenizer,
                          const PrepareOptions& options) {
  if (!(options.val_fraction >= 0.0 && options.val_fraction < 1.0))
    fail("--val-fraction must be in [0, 1), not {}", options.val_fraction);
  if (options.shard_tokens == 0) fail("shard size must be at least one token");
  const uint32_t separator = document_separator(tokenizer);
  tok::TextInputs text = tok::read_text_inputs(inputs);

  tok::Hasher key;
  key.add("alpha-token-cache-v1").add(tokenizer.hash()).add(uint64_t(separator));
  key.add(uint64_t(std::llround(options.val_fraction * 1e9))).add(options.shard_tokens);
  nlohmann::json inputs_json = nlohmann::json::array();
  for (const auto& f : text.files) {
    uint64_t h = tok::xxh64(f.bytes);
    key.add(f.path).add(uint64_t(f.bytes.size())).add(h);
    inputs_json.push_back({{"path", f.path}, {"bytes", f.bytes.size()}, {"xxh64", tok::hex64(h)}});
  }
  const std::string hex = tok::hex64(key.digest());
  const std::filesystem::path dir = options.cache_dir / hex;
  std::error_code ec;
  if (std::filesystem::exists(dir / "manifest.json", ec)) {
    PreparedData cached = open_prepared(dir);
    cached.cache_hit = true;
    return cached;
  }

  std::vector<uint32_t> tokens =
      tokenizer.encode_documents(text.documents(), separator, options.threads);
  if (tokens.size() < 2) fail("the inputs hold too little text to make any training data");
  uint64_t val =
      options.val_fraction > 0
          ? std::max<uint64_t>(1, uint64_t(std::ceil(tokens.size() * options.val_fraction)))
          : 0;
  if (val >= tokens.size()) val = tokens.size() / 2;
  const uint64_t train = tokens.size() - val;

  PreparedData out;
  out.key = hex;
  out.dir = dir;
  out.input_bytes = text.total_bytes();
  out.documents = text.documents().size();
  out.train_tokens = train;
  out.val_tokens = val;
  out.vocab_size = uint32_t(tokenizer.vocab_size());
  out.dtype_bytes = shard_dtype_bytes(tokenizer.vocab_size());
  out.separator = separator;

  // Build in a private temp folder, then rename it into place.
  std::filesystem::create_directories(options.cache_dir, ec);
  if (ec) fail("{}: cannot create the cache folder: {}", options.cache_dir.string(), ec.message());
  std::filesystem::path tmp = options.cache_dir / fmt::format(".{}.tmp{}", hex, ::getpid());
  std::filesystem::remove_all(tmp, ec);
  try {
    std::filesystem::create_directories(tmp);
    nlohmann::json train_files = nlohmann::json::array(), val_files = nlohmann::json::array();
    std::span<const uint32_t> all(tokens);
    write_split(tmp, "train", all.subspan(0, train), options.shard_tokens, out.dtype_bytes,
                train_files);
    write_split(tmp, "val", all.subspan(train), options.shard_tokens, out.dtype_bytes, val_files);
    nlohmann::json manifest = {
        {"version", kManifestVersion},
        {"key", hex},
        {"tokenizer_xxh64", tok::hex64(tokenizer.hash())},
        {"vocab_size", out.vocab_size},
        {"dtype_bytes", out.dtype_bytes},
        {"separator", separator},
        {"val_fraction", options.val_fraction},
        {"input_bytes", out.input_bytes},
        {"documents", out.documents},
        {"inputs", inputs_json},
        {"train", {{"tokens", train}, {"shards", train_files}}},
        {"val", {{"tokens", val}, {"shards", val_files}}},
    };
    tok::write_file_atomic(tmp / "manifest.json", manifest.dump(2) + "\n");
    std::filesystem::rename(tmp, dir, ec);
    if (ec) {
      std::filesystem::remove_all(tmp);
      if (!std::filesystem::exists(dir / "manifest.json"))  // lost a race: the other copy is fine
        fail("{}: cannot move the token cache into place: {}", dir.string(), ec.message());
    }
    tok::sync_directory(options.cache_dir);
  } catch (...) {
    std::filesystem::remove_all(tmp, ec);
    throw;
  }
  return open_prepared(dir);
}

PreparedData open_prepared(const std::filesystem::path& dir) {
  const auto path = dir / "manifest.json";
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(tok::read_file(path));
    if (m.at("version").get<int>() != kManifestVersion)
      fail("{}: token cache version {} is not supported; delete the folder to rebuild it",
           path.string(), m.at("version").get<int>());
    PreparedData d;
    d.dir = dir;
    d.key = m.at("key").get<std::string>();
    d.input_bytes = m.at("input_bytes").get<uint64_t>();
    d.documents = m.at("documents").get<uint64_t>();
    d.vocab_size = m.at("vocab_size").get<uint32_t>();
    d.dtype_bytes = m.at("dtype_bytes").get<uint32_t>();
    d.separator = m.at("separator").get<uint32_t>();
    d.train_tokens = m.at("train").at("tokens").get<uint64_t>();
    d.val_tokens = m.at("val").at("tokens").get<uint64_t>();
    for (const auto& f : m.at("train").at("shards"))
      d.train_shards.push_back(dir / f.get<std::string>());
    for (const auto& f : m.at("val").at("shards"))
      d.val_shards.push_back(dir / f.get<std::string>());
    return d;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: token cache manifest is corrupt ({}); delete the folder to rebuild it", path.string(),
         e.what());
  }
}

std::vector<uint32_t> load_split(const PreparedData& data, Split split) {
  const auto& shards = split == Split::train ? data.train_shards : data.val_shards;
  const uint64_t expected = split == Split::train ? data.train_tokens : data.val_tokens;
  std::vector<uint32_t> tokens;
  tokens.reserve(expected);
  for (const auto& s : shards) read_shard(s, tokens);
  if (tokens.size() != expected)
    fail("{}: the shards hold {} tokens, the manifest says {}; delete the folder to rebuild it",
         data.dir.string(), tokens.size(), expected);
  for (uint32_t t : tokens)
    if (t >= data.vocab_size)
      fail("{}: token {} is outside the vocabulary of {}; delete the folder to rebuild it",
           data.dir.string(), t, data.vocab_size);
  return tokens;
}

}  // namespace alpha::train::data
