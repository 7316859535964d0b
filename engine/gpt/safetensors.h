// The safetensors file format (float32 tensors only): an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {...}} padded with spaces to a
// multiple of 8, then the tensors' raw little-endian bytes back to back. Builds the bytes; writing
// them to disk (atomically) is the caller's job.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace alpha::gpt {

struct SafetensorsTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;  // row-major, product(shape) floats
};

// The whole file. Tensors are stored in the given order; metadata values are strings (the format's
// rule). Throws alpha::Error on a duplicate name or a shape that does not match the data.
std::string safetensors_bytes(const std::vector<SafetensorsTensor>& tensors,
                              const std::map<std::string, std::string>& metadata);

}  // namespace alpha::gpt
