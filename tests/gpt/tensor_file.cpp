// Named-tensor file reader/writer (see tensor_file.h).
#include "tests/gpt/tensor_file.h"

#include <cstring>
#include <fstream>

#include "common/error.h"

namespace alpha::test {

static constexpr char kMagic[8] = {'A', 'L', 'P', 'H', 'A', 'T', 'N', 'S'};
static constexpr uint32_t kVersion = 1;

template <typename T>
static void put(std::ofstream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof value);
}

template <typename T>
static T get(std::ifstream& in) {
  T value{};
  in.read(reinterpret_cast<char*>(&value), sizeof value);
  return value;
}

void write_tensor_file(const std::string& path, const TensorFile& tensors) {
  std::ofstream out(path, std::ios::binary);
  out.write(kMagic, 8);
  put(out, kVersion);
  put(out, static_cast<uint32_t>(tensors.size()));
  for (const auto& [name, t] : tensors) {
    put(out, static_cast<uint32_t>(name.size()));
    out.write(name.data(), name.size());
    const bool is_int = !t.i32.empty();
    put(out, static_cast<uint8_t>(is_int ? 1 : 0));
    put(out, static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) put(out, d);
    if (is_int)
      out.write(reinterpret_cast<const char*>(t.i32.data()), t.i32.size() * 4);
    else
      out.write(reinterpret_cast<const char*>(t.f32.data()), t.f32.size() * 4);
  }
  if (!out) fail("cannot write tensor file {}", path);
}

TensorFile read_tensor_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8];
  in.read(magic, 8);
  if (!in || std::memcmp(magic, kMagic, 8) != 0) fail("{} is not a tensor file", path);
  if (get<uint32_t>(in) != kVersion) fail("{}: unsupported tensor file version", path);
  const uint32_t count = get<uint32_t>(in);
  TensorFile tensors;
  for (uint32_t i = 0; i < count; ++i) {
    std::string name(get<uint32_t>(in), '\0');
    in.read(name.data(), name.size());
    const uint8_t dtype = get<uint8_t>(in);
    NamedTensor t;
    t.shape.resize(get<uint32_t>(in));
    int64_t n = 1;
    for (auto& d : t.shape) n *= (d = get<int64_t>(in));
    if (dtype == 1) {
      t.i32.resize(n);
      in.read(reinterpret_cast<char*>(t.i32.data()), n * 4);
    } else {
      t.f32.resize(n);
      in.read(reinterpret_cast<char*>(t.f32.data()), n * 4);
    }
    if (!in) fail("{}: truncated at tensor {}", path, name);
    tensors[name] = std::move(t);
  }
  return tensors;
}

}  // namespace alpha::test
