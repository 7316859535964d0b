// safetensors serialisation (see safetensors.h).
#include "engine/gpt/safetensors.h"

#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "common/error.h"

namespace alpha::gpt {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

std::string safetensors_bytes(const std::vector<SafetensorsTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> names;
  uint64_t data_bytes = 0;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second)
      fail("safetensors: the tensor name '{}' is empty, reserved or used twice", t.name);
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    if (numel != static_cast<int64_t>(t.data.size()))
      fail("safetensors: tensor {} has {} floats for a shape of {} elements", t.name, t.data.size(),
           numel);
    const uint64_t end = data_bytes + t.data.size() * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {data_bytes, end}}};
    data_bytes = end;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data then starts 8-byte aligned

  std::string bytes(8 + text.size() + data_bytes, '\0');
  const uint64_t header_size = text.size();
  std::memcpy(bytes.data(), &header_size, 8);
  std::memcpy(bytes.data() + 8, text.data(), text.size());
  char* data = bytes.data() + 8 + text.size();
  for (const auto& t : tensors) {
    std::memcpy(data, t.data.data(), t.data.size() * sizeof(float));
    data += t.data.size() * sizeof(float);
  }
  return bytes;
}

}  // namespace alpha::gpt
