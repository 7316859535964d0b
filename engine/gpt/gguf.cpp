// GGUF serialisation (see gguf.h).
#include "engine/gpt/gguf.h"

#include <bit>
#include <cstring>
#include <set>

#include "common/error.h"
#include "engine/half.h"

namespace alpha::gpt {

static_assert(std::endian::native == std::endian::little, "GGUF data is written little-endian");

namespace {

// gguf_type: the tag before each metadata value (and inside arrays).
constexpr uint32_t kUint32 = 4, kInt32 = 5, kFloat32 = 6, kBool = 7, kString = 8, kArray = 9;

constexpr uint32_t kVersion = 3;
constexpr size_t kMaxName = 64;  // GGML_MAX_NAME, counting the terminating NUL
constexpr size_t kMaxDims = 4;   // GGML_MAX_DIMS

template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {  // u64 length, bytes, no NUL
  put<uint64_t>(out, s.size());
  out += s;
}

void put_value(std::string& out, const GgufValue& value) {
  struct Visitor {
    std::string& out;
    void operator()(uint32_t v) { tag(kUint32); put(out, v); }
    void operator()(int32_t v) { tag(kInt32); put(out, v); }
    void operator()(float v) { tag(kFloat32); put(out, v); }
    void operator()(bool v) { tag(kBool); put<uint8_t>(out, v ? 1 : 0); }
    void operator()(const std::string& v) { tag(kString); put_string(out, v); }
    void operator()(const std::vector<std::string>& v) {  // ARRAY: element type, count, elements
      tag(kArray); tag(kString); put<uint64_t>(out, v.size());
      for (const auto& s : v) put_string(out, s);
    }
    void operator()(const std::vector<int32_t>& v) {
      tag(kArray); tag(kInt32); put<uint64_t>(out, v.size());
      for (int32_t x : v) put(out, x);
    }
    void tag(uint32_t type) { put(out, type); }
  };
  std::visit(Visitor{out}, value);
}

uint64_t padded(uint64_t n) { return (n + kGgufAlignment - 1) / kGgufAlignment * kGgufAlignment; }

uint64_t data_bytes(const GgufTensor& t) {
  return t.data.size() * (t.type == GgufType::f16 ? sizeof(uint16_t) : sizeof(float));
}

void check(const std::vector<GgufKv>& metadata, const std::vector<GgufTensor>& tensors) {
  std::set<std::string> keys;
  for (const auto& kv : metadata) {
    if (kv.key.empty() || !keys.insert(kv.key).second)
      fail("GGUF: the metadata key '{}' is empty or used twice", kv.key);
    if (kv.key == "general.alignment" &&
        (!std::holds_alternative<uint32_t>(kv.value) || std::get<uint32_t>(kv.value) != kGgufAlignment))
      fail("GGUF: general.alignment must be the uint32 {}, the alignment the writer keeps", kGgufAlignment);
  }
  std::set<std::string> names;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name.size() >= kMaxName || !names.insert(t.name).second)
      fail("GGUF: the tensor name '{}' is empty, {} bytes or longer, or used twice", t.name, kMaxName);
    if (t.shape.empty() || t.shape.size() > kMaxDims)
      fail("GGUF: tensor {} has {} dims; GGUF takes 1 to {}", t.name, t.shape.size(), kMaxDims);
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    if (numel != static_cast<int64_t>(t.data.size()))
      fail("GGUF: tensor {} has {} floats for a shape of {} elements", t.name, t.data.size(), numel);
  }
}

}  // namespace

std::string gguf_bytes(const std::vector<GgufKv>& metadata, const std::vector<GgufTensor>& tensors) {
  check(metadata, tensors);
  std::string out = "GGUF";
  put(out, kVersion);
  put<uint64_t>(out, tensors.size());
  put<uint64_t>(out, metadata.size());
  for (const auto& kv : metadata) {
    put_string(out, kv.key);
    put_value(out, kv.value);
  }
  uint64_t offset = 0;  // from the start of the data section
  for (const auto& t : tensors) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) put<uint64_t>(out, *d);  // ne: innermost first
    put(out, static_cast<uint32_t>(t.type));
    put(out, offset);
    offset += padded(data_bytes(t));
  }
  out.resize(padded(out.size()), '\0');

  // Each tensor is padded to the alignment, the last one too: ggml reads the data section as the sum
  // of the padded sizes.
  const size_t data_start = out.size();
  out.resize(data_start + offset, '\0');
  char* at = out.data() + data_start;
  for (const auto& t : tensors) {
    if (t.type == GgufType::f32) {
      std::memcpy(at, t.data.data(), t.data.size() * sizeof(float));
    } else {
      for (size_t i = 0; i < t.data.size(); ++i) {
        const uint16_t h = f32_to_f16(t.data[i]);
        std::memcpy(at + i * sizeof(uint16_t), &h, sizeof(uint16_t));
      }
    }
    at += padded(data_bytes(t));
  }
  return out;
}

}  // namespace alpha::gpt
