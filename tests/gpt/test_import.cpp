// Import of Hugging Face GPT-2 folders (engine/gpt/safetensors.h's reader, engine/gpt/hf_gpt2.h's
// mapping, engine/train/import.h): the reader's checks, one malformed file per rule, and a seeded
// mutation run in which every damaged file is either read or refused with alpha::Error; the mapping
// as the inverse of the export (bit for bit, with and without the transformer. prefix, the mask
// buffers, a tied lm_head copy, a shorter context) and its refusals; config.json's refusals; and on
// the device, a random GPT-2 written by PyTorch (tests/reference/hf_gpt2_write.py: F16/BF16,
// prefix, buffers, an untied head) imported as a run gives torch's logits.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <typeinfo>

#include "common/error.h"
#include "engine/gpt/hf_gpt2.h"
#include "engine/gpt/model.h"
#include "engine/gpt/safetensors.h"
#include "engine/train/import.h"
#include "engine/train/run.h"
#include "tests/gpt/reference_support.h"
#include "tests/unit/gpu_fixture.h"

namespace alpha::test {

using gpt::GptConfig;
using gpt::SafetensorsFile;

namespace {

// A file from header text and data bytes (the header padded with spaces to a multiple of 8).
std::string file_of(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  const uint64_t n = header.size();
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &n, 8);
  return bytes + header + data;
}

std::string with_header_length(std::string bytes, uint64_t n) {
  std::memcpy(bytes.data(), &n, 8);
  return bytes;
}

SafetensorsFile parse(const std::string& bytes) {
  return SafetensorsFile::parse(bytes, "t.safetensors");
}

GptConfig small_config() {
  GptConfig config;
  config.n_layer = 2, config.n_head = 3, config.n_embd = 48, config.seq_len = 37,
  config.vocab_size = 101;
  return config;
}

// Random values in every parameter, zeros in the alignment padding (as alpha's buffers hold).
std::vector<float> random_parameters(const gpt::ParameterLayout& layout, uint32_t seed) {
  std::vector<float> params(layout.total_floats, 0.0f);
  const auto values = random_nonzero(layout.total_floats, seed);
  for (const auto& p : layout.params)
    std::copy(values.begin() + p.offset, values.begin() + p.offset + p.numel,
              params.begin() + p.offset);
  return params;
}

std::vector<gpt::SafetensorsTensor> exported(const GptConfig& config,
                                             const std::vector<float>& params) {
  return gpt::hf_gpt2_tensors(gpt::ParameterLayout(config), params);
}

SafetensorsFile file_of_tensors(const std::vector<gpt::SafetensorsTensor>& tensors) {
  return parse(gpt::safetensors_bytes(tensors, {{"format", "pt"}}));
}

gpt::SafetensorsTensor& named(std::vector<gpt::SafetensorsTensor>& tensors,
                              const std::string& name) {
  for (auto& t : tensors)
    if (t.name == name) return t;
  FAIL("no tensor " << name);
  throw 0;
}

}  // namespace

TEST_CASE(
    "safetensors reader: offsets, not header order, place the data; F16 and BF16 widen exactly") {
  // F16: 1, -2, 65504 (the largest), 2^-24 (the smallest subnormal); BF16: 1, -5. Header order b,
  // a, e; data order a, e (empty), b.
  const std::string data(
      "\x00\x3c\x00\xc0\xff\x7b\x01\x00"
      "\x80\x3f\xa0\xc0",
      12);
  const std::string bytes = file_of(
      R"({"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"__metadata__":{"format":"pt"},)"
      R"("a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},)"
      R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[8,8]}})",
      data);
  const auto file = parse(bytes);
  REQUIRE(file.tensors().size() == 3);
  CHECK(file.tensors()[0].name == "a");
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.find("a")->shape == std::vector<int64_t>{2, 2});
  CHECK(file.find("nope") == nullptr);
  CHECK(file.floats(*file.find("a")) == std::vector<float>{1.0f, -2.0f, 65504.0f, 0x1p-24f});
  CHECK(file.floats(*file.find("b")) == std::vector<float>{1.0f, -5.0f});
  CHECK(file.floats(*file.find("e")).empty());

  // What the writer writes reads back unchanged.
  const std::vector<gpt::SafetensorsTensor> tensors = {{"w", {2, 3}, {1, 2, 3, 4, 5, -6}},
                                                       {"s", {}, {0.25f}}};
  const auto back = parse(gpt::safetensors_bytes(tensors, {{"k", "v"}}));
  CHECK(back.floats(*back.find("w")) == tensors[0].data);
  CHECK(back.floats(*back.find("s")) == tensors[1].data);
  CHECK(back.find("s")->shape.empty());
  CHECK(back.metadata().at("k") == "v");
}

TEST_CASE(
    "safetensors reader: every malformed file is one alpha::Error naming the file and the rule") {
  const std::string f4(4, '\x01'), f8(8, '\x01'), f12(12, '\x01');
  // A file of one tensor (its name; dtype, shape and data_offsets as JSON text) and `data`.
  auto one = [](const char* name, const char* dtype, const char* shape, const char* offsets,
                const std::string& data) {
    return file_of(fmt::format(R"({{"{}":{{"dtype":{},"shape":{},"data_offsets":{}}}}})", name,
                               dtype, shape, offsets),
                   data);
  };
  const std::string good = one("a", R"("F32")", "[2]", "[0,8]", f8);
  const std::string two_tensors = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  struct Case {
    const char* what;
    std::string bytes;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"shorter than the length field", "abc", "3 bytes is too short"},
      {"a header length over 100 MB", with_header_length(good, 200'000'000),
       "over the format's limit"},
      {"a header length past the end", with_header_length(good, 4096),
       "runs past the end of the file"},
      {"a truncated header", good.substr(0, 30), "runs past the end of the file"},
      {"a header that is no object", file_of("[1, 2]", ""), "does not start with '{'"},
      {"a header cut short", file_of(R"({"a": {"dtype")", ""), "the header is not valid JSON"},
      {"invalid UTF-8 in a name", file_of("{\"\xff\": 1}", ""), "the header is not valid JSON"},
      {"a name used twice", file_of(R"({"a":{},"a":{}})", ""), "the header names 'a' twice"},
      {"a field used twice", one("a", R"("F32","dtype":"F16")", "[1]", "[0,4]", f4),
       "the header names 'dtype' twice"},
      {"a tensor that is no object", file_of(R"({"a":3})", ""), "is not an object with dtype"},
      {"an unknown dtype", one("a", R"("Q4")", "[1]", "[0,4]", f4),
       "tensor 'a' has the unknown dtype \"Q4\""},
      {"a negative dimension", one("a", R"("F32")", "[-1]", "[0,4]", f4),
       "not a list of non-negative integers"},
      {"a shape that is no list", one("a", R"("F32")", "2", "[0,8]", f8),
       "has a shape that is not a list"},
      {"one data offset", one("a", R"("F32")", "[1]", "[0]", f4), "not [begin, end]"},
      {"offsets outside the data", one("a", R"("F32")", "[2]", "[0,8]", f4),
       "data_offsets [0,8] outside the 4 bytes of data"},
      {"end before begin", one("a", R"("F32")", "[1]", "[4,0]", f4), "outside the 4 bytes of data"},
      {"a size that is not the shape's", one("a", R"("F32")", "[3]", "[0,8]", f8),
       "has 8 bytes at data_offsets [0,8], its shape [3] of F32 needs 12"},
      {"a shape whose size overflows", one("a", R"("F32")", "[4611686018427387904,4]", "[0,8]", f8),
       "needs more than 2^64"},
      {"overlapping tensors", file_of(two_tensors, f12), "tensors 'a' and 'b' overlap"},
      {"a gap", one("b", R"("F32")", "[1]", "[4,8]", f8),
       "4 bytes of the data before tensor 'b' belong to no tensor"},
      {"bytes after the last tensor", one("a", R"("F32")", "[1]", "[0,4]", f8),
       "4 bytes of the data after the last tensor belong to no tensor"},
      {"metadata that is not a string", file_of(R"({"__metadata__":{"x":1}})", ""),
       "__metadata__ 'x' is 1, not a string"},
  };
  CHECK_NOTHROW(parse(good));
  for (const auto& c : cases) {
    INFO(std::string(c.what));
    CHECK_THROWS_WITH_AS(parse(c.bytes), doctest::Contains(c.message), Error);
    try {
      parse(c.bytes);
    } catch (const Error& e) {
      const std::string message = e.what();
      CHECK(message.starts_with("t.safetensors: "));
      CHECK(message.find('\n') == std::string::npos);
    }
  }
  const auto ints = parse(one("i", R"("I64")", "[1]", "[0,8]", f8));
  CHECK_THROWS_WITH_AS(
      ints.floats(ints.tensors()[0]),
      "t.safetensors: tensor 'i' is I64; alpha reads F32, F16 and BF16 tensors only", Error);
  CHECK_THROWS_WITH_AS(SafetensorsFile::read("/nonexistent/model.safetensors"),
                       doctest::Contains("/nonexistent/model.safetensors: cannot open it"), Error);
}

TEST_CASE("safetensors reader: damaged files are read or refused with alpha::Error, never worse") {
  const std::vector<gpt::SafetensorsTensor> tensors = {
      {"wte.weight", {3, 4}, std::vector<float>(12, 0.5f)},
      {"ln.bias", {4}, {1, 2, 3, 4}},
      {"s", {}, {7}}};
  const std::string good = gpt::safetensors_bytes(tensors, {{"format", "pt"}});
  std::mt19937 rng(2024);
  int refused = 0, read = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string bytes = good;
    const int kind = i % 4;
    auto at = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
    if (kind == 0) {  // a few random bytes anywhere
      for (int k = 0; k < 1 + i % 3; ++k) bytes[at(bytes.size())] = static_cast<char>(rng());
    } else if (kind == 1) {  // a character of the header's JSON syntax or digits
      const char* syntax = "{}[],:\"0123456789- e.";
      bytes[8 + at(bytes.size() - 8)] = syntax[at(std::strlen(syntax))];
    } else if (kind == 2) {  // truncated
      bytes.resize(at(bytes.size()));
    } else {  // another header length
      bytes = with_header_length(bytes, at(bytes.size() + 16));
    }
    try {
      const auto file = parse(bytes);
      for (const auto& entry : file.tensors()) {
        try {
          file.floats(entry);
        } catch (const Error&) {
        }
      }
      ++read;
    } catch (const Error&) {
      ++refused;
    } catch (const std::exception& e) {
      FAIL("mutation " << i << " escaped as " << typeid(e).name() << ": " << e.what());
    }
  }
  MESSAGE(fmt::format("4000 damaged files: {} read, {} refused", read, refused));
  CHECK(refused > 3000);
}

TEST_CASE("Hugging Face GPT-2 import is the export's inverse, bit for bit, in every naming") {
  const auto config = small_config();
  const gpt::ParameterLayout layout(config);
  const auto params = random_parameters(layout, 11);
  auto tensors = exported(config, params);

  auto check_same = [&](const gpt::HfGpt2Parameters& got) {
    REQUIRE(got.params.size() == params.size());
    CHECK(std::memcmp(got.params.data(), params.data(), params.size() * sizeof(float)) == 0);
    CHECK(got.config.describe() == config.describe());
    CHECK(got.config.is_gpt2());
  };
  SUBCASE("GPT2Model's names, as alpha export writes them") {
    const auto got = gpt::hf_gpt2_parameters(file_of_tensors(tensors), config);
    check_same(got);
    CHECK(got.ignored.empty());
    CHECK(got.dtypes == std::map<std::string, int>{{"F32", static_cast<int>(tensors.size())}});
  }
  SUBCASE("GPT2LMHeadModel's: transformer. prefix, a tied lm_head copy, the mask buffers") {
    for (auto& t : tensors) t.name = "transformer." + t.name;
    tensors.push_back({"lm_head.weight", named(tensors, "transformer.wte.weight").shape,
                       named(tensors, "transformer.wte.weight").data});
    for (int l = 0; l < config.n_layer; ++l) {
      tensors.push_back({fmt::format("transformer.h.{}.attn.bias", l),
                         {1, 1, 37, 37},
                         std::vector<float>(37 * 37, 1.0f)});
      tensors.push_back({fmt::format("transformer.h.{}.attn.masked_bias", l), {}, {-1e4f}});
    }
    const auto got = gpt::hf_gpt2_parameters(file_of_tensors(tensors), config);
    check_same(got);
    CHECK(got.ignored.size() == 4);
  }
  SUBCASE("a shorter context keeps wpe's first rows") {
    const auto got = gpt::hf_gpt2_parameters(file_of_tensors(tensors), config, 20);
    CHECK(got.config.seq_len == 20);
    const gpt::ParameterLayout shorter(got.config);
    for (const auto& p : shorter.params) {
      const auto& q = layout.find(p.name);
      REQUIRE(std::equal(got.params.begin() + p.offset, got.params.begin() + p.offset + p.numel,
                         params.begin() + q.offset));
    }
    CHECK_THROWS_WITH_AS(gpt::hf_gpt2_parameters(file_of_tensors(tensors), config, 38),
                         doctest::Contains("not between 1 and the model's n_positions 37"), Error);
  }
  SUBCASE("an untied head") {
    GptConfig untied = config;
    untied.tie_embeddings = false;
    const gpt::ParameterLayout untied_layout(untied);
    const auto untied_params = random_parameters(untied_layout, 12);
    std::vector<gpt::SafetensorsTensor> with_head = exported(config, params);
    const auto& head = untied_layout.params[untied_layout.lm_head];
    with_head.push_back(
        {"lm_head.weight",
         head.shape,
         {untied_params.begin() + head.offset, untied_params.begin() + head.offset + head.numel}});
    const auto got = gpt::hf_gpt2_parameters(file_of_tensors(with_head), untied);
    REQUIRE(got.config.describe() == untied.describe());  // tie_embeddings false: head's layout
    CHECK(std::equal(got.params.begin() + head.offset,
                     got.params.begin() + head.offset + head.numel,
                     untied_params.begin() + head.offset));
    CHECK_THROWS_WITH_AS(gpt::hf_gpt2_parameters(file_of_tensors(tensors), untied),
                         doctest::Contains("missing: lm_head.weight"), Error);
    // The same head beside a config that ties it: refused, not silently dropped.
    CHECK_THROWS_WITH_AS(
        gpt::hf_gpt2_parameters(file_of_tensors(with_head), config),
        doctest::Contains("lm_head.weight differs from wte.weight, but config.json ties them"),
        Error);
  }
}

TEST_CASE("Hugging Face GPT-2 import names every missing, unexpected and misshapen tensor") {
  const auto config = small_config();
  const auto params = random_parameters(gpt::ParameterLayout(config), 13);
  auto refused = [&](std::vector<gpt::SafetensorsTensor> tensors, const char* message) {
    CHECK_THROWS_WITH_AS(gpt::hf_gpt2_parameters(file_of_tensors(tensors), config),
                         doctest::Contains(message), Error);
  };
  auto tensors = exported(config, params);
  std::erase_if(tensors, [](const auto& t) { return t.name == "h.1.ln_2.bias"; });
  refused(tensors, "missing: h.1.ln_2.bias");
  tensors = exported(config, params);
  tensors.push_back({"h.2.ln_1.weight", {48}, std::vector<float>(48, 1.0f)});
  tensors.push_back({"score.weight", {2, 48}, std::vector<float>(96, 1.0f)});
  refused(tensors, "unexpected: h.2.ln_1.weight, score.weight");
  tensors = exported(config, params);
  named(tensors, "h.0.mlp.c_fc.weight").shape = {192, 48};  // (out, in): not transposed
  refused(tensors, "wrong shape: h.0.mlp.c_fc.weight is [192,48], not [48,192]");
  tensors = exported(config, params);
  tensors.push_back(named(tensors, "wte.weight"));
  tensors.back().name = "transformer.wte.weight";
  refused(tensors, "present with and without the transformer. prefix: wte.weight");
  // All at once, in one line.
  tensors = exported(config, params);
  tensors.erase(tensors.begin());
  tensors.push_back({"extra", {1}, {1}});
  named(tensors, "ln_f.bias").shape = {1, 48};
  try {
    gpt::hf_gpt2_parameters(file_of_tensors(tensors), config);
    FAIL("accepted");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.find("missing: wte.weight; unexpected: extra; wrong shape: ln_f.bias is [1,48], "
                       "not [48]") != std::string::npos);
    CHECK(message.starts_with("t.safetensors: not the tensors of config.json's GPT-2 (n_layer=2"));
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("GPT-2 config.json: the sizes read, what alpha does not compute refused") {
  const auto config = small_config();
  const nlohmann::json good = gpt::hf_gpt2_config(config, 100, 100);
  const auto read = gpt::gpt2_config_from_hf(good, "config.json");
  CHECK(read.describe() == config.describe());
  CHECK(read.is_gpt2());
  nlohmann::json j = good;
  j.erase("n_positions");
  j["n_ctx"] = 29;
  j["activation_function"] = "gelu_pytorch_tanh";
  j["n_inner"] = 192;
  j["tie_word_embeddings"] = false;
  const auto other = gpt::gpt2_config_from_hf(j, "config.json");
  CHECK(other.seq_len == 29);
  CHECK_FALSE(other.tie_embeddings);
  j = {{"n_embd", 48}, {"n_layer", 2}, {"n_head", 3}, {"n_positions", 37}, {"vocab_size", 101}};
  CHECK(gpt::gpt2_config_from_hf(j, "config.json").describe() == config.describe());  // defaults

  auto refused = [&](const char* key, nlohmann::json value, const char* message) {
    nlohmann::json bad = good;
    if (value.is_discarded())
      bad.erase(key);
    else
      bad[key] = value;
    INFO(std::string(key) << " = " << value.dump());
    CHECK_THROWS_WITH_AS(gpt::gpt2_config_from_hf(bad, "dir/config.json"),
                         doctest::Contains((std::string("dir/config.json: ") + message).c_str()),
                         Error);
  };
  const auto erase = nlohmann::json(nlohmann::json::value_t::discarded);
  refused("activation_function", "relu", "activation_function \"relu\" is not alpha's GELU");
  refused("activation_function", "gelu", "activation_function \"gelu\" is not alpha's GELU");
  refused("layer_norm_epsilon", 1e-6,
          "layer_norm_epsilon 1e-06 is not alpha's LayerNorm epsilon 1e-5");
  refused("n_inner", 100, "n_inner 100 is not 4·n_embd = 192");
  refused("model_type", "llama", "model_type \"llama\" is not gpt2");
  refused("n_embd", erase, "n_embd is missing");
  refused("n_head", 0, "n_head is 0, not a positive integer");
  refused("n_layer", "2", "n_layer is \"2\", not a positive integer");
  refused("n_head", 5, "model config: n_embd 48 is not divisible by n_head 5");
  refused("scale_attn_weights", false, "scale_attn_weights is false");
  refused("scale_attn_by_inverse_layer_idx", true, "scale_attn_by_inverse_layer_idx is true");
  refused("tie_word_embeddings", "yes", "tie_word_embeddings is \"yes\", not true or false");
  nlohmann::json no_positions = good;
  no_positions.erase("n_positions"), no_positions.erase("n_ctx");
  CHECK_THROWS_WITH_AS(gpt::gpt2_config_from_hf(no_positions, "c"),
                       doctest::Contains("n_positions (or n_ctx) is missing"), Error);
  CHECK_THROWS_WITH_AS(gpt::gpt2_config_from_hf(nlohmann::json::array(), "c"),
                       "c: not a JSON object", Error);
}

// The PyTorch-written folders need GPT-2's tokenizer files (scripts/fetch-data); without them the
// case is skipped, except on CI, where it fails.
static bool have_gpt2_files() {
  if (std::filesystem::exists(std::string(ALPHA_SOURCE_DIR) + "/data/gpt2/encoder.json"))
    return true;
  const char* ci = std::getenv("CI");
  CHECK_MESSAGE(!(ci && std::string(ci) == "true"),
                "data/gpt2 is missing: CI must run scripts/fetch-data");
  MESSAGE("skipped: data/gpt2 is missing (run scripts/fetch-data)");
  return false;
}

TEST_CASE_FIXTURE(GpuFixture,
                  "a GPT-2 written by PyTorch, imported as a run, gives torch's logits") {
  if (!have_gpt2_files()) return;
  struct Case {
    const char* what;
    const char* options;  // hf_gpt2_write.py's
    int seq;              // import's --seq (0: the 40 positions)
  };
  const std::vector<Case> cases = {
      {"mixed BF16/F16/F32, GPT2LMHeadModel names, mask buffers, a shorter context",
       "--dtype mixed --prefix --buffers", 23},
      {"F16, an untied head, gelu_pytorch_tanh",
       "--dtype f16 --untied --activation gelu_pytorch_tanh", 0},
  };
  const auto root =
      std::filesystem::temp_directory_path() / fmt::format("alpha-import-test-{}", getpid());
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    INFO(std::string(c.what));
    const auto dir = root / fmt::format("hf{}", i);
    const int B = 2, T = c.seq > 0 ? c.seq : 40;
    gpt::Rng rng(31 + i);
    std::vector<int32_t> tokens(B * T);
    for (auto& t : tokens) t = static_cast<int32_t>(rng.next_u64() % 50257);
    TensorFile input;
    input["tokens"] = {{B, T}, {}, tokens};
    const auto want =
        run_reference_script("hf_gpt2_write.py",
                             fmt::format("{} --gpt2-files {}/data/gpt2 --seed {} {}", dir.string(),
                                         ALPHA_SOURCE_DIR, 5 + i, c.options),
                             input);

    train::ImportOptions options;
    options.dir = dir;
    options.runs_dir = root / "runs";
    options.seq = c.seq;
    const auto result = train::import_run(options);
    CHECK(result.run_dir == root / "runs" / fmt::format("hf{}", i));
    const auto run = train::open_run(result.run_dir);
    const auto checkpoint = train::load_run_checkpoint(run);
    CHECK(checkpoint.step == 0);
    CHECK(run.model.seq_len == T);
    CHECK(run.model.tie_embeddings == (i == 0));
    const auto tokenizer = train::load_run_tokenizer(run);
    CHECK(tokenizer.vocab_size() == 50257);
    CHECK(tokenizer.special_id("<|endoftext|>") == 50256u);
    CHECK(tokenizer.encode("Hello world") == std::vector<uint32_t>{15496, 995});  // GPT-2's ids

    gpt::GptModel model(gpu(), run.model, B, T);
    model.set_parameters(checkpoint.params);
    std::vector<int32_t> no_targets(B * T, -1);
    model.set_batch(tokens, no_targets);
    {
      vk::CommandStream stream(gpu());
      model.forward(stream, false);
      stream.submit();
    }
    const auto logits = model.read_logits();
    REQUIRE(logits.size() == want.at("logits").f32.size());
    // fp32 through 2 blocks with other summation orders, as test_export: 1e-4 of the largest logit
    const double worst = compare_relative("logits", logits.data(), want.at("logits").f32.data(),
                                          static_cast<int64_t>(logits.size()), 1e-4);
    MESSAGE(fmt::format("{}: logits worst relative error {:.1e}", c.what, worst));
  }
  std::filesystem::remove_all(root);
}

}  // namespace alpha::test
