// Named-tensor files exchanged with the PyTorch reference scripts (format: tests/reference/tensor_file.py).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace alpha::test {

struct NamedTensor {
  std::vector<int64_t> shape;
  std::vector<float> f32;    // when the file's dtype is f32
  std::vector<int32_t> i32;  // when it is i32
};

using TensorFile = std::map<std::string, NamedTensor>;

void write_tensor_file(const std::string& path, const TensorFile& tensors);
TensorFile read_tensor_file(const std::string& path);

}  // namespace alpha::test
