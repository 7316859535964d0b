// Tensor: a shape, a dtype and a view of arena memory. It does not own the memory; whoever sized the
// arena (a model's parameter layout, a test) releases it. Host copies go through the arena.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/vk/arena.h"

namespace alpha {

enum class DType { f32, f16, bf16, i32 };  // i32: token ids and targets

size_t dtype_bytes(DType dtype);
const char* dtype_name(DType dtype);

struct Tensor {
  std::vector<int64_t> shape;
  DType dtype = DType::f32;
  vk::BufferSlice slice;

  static Tensor empty(vk::Arena& arena, std::vector<int64_t> shape, DType dtype = DType::f32);
  // A new 1-D f32 tensor holding `values` (small constants: a loss scale, step scalars).
  static Tensor of(vk::Arena& arena, std::span<const float> values);

  int64_t numel() const;
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_bytes(dtype); }
  int64_t rows() const;  // product of all but the last dimension
  int64_t cols() const;  // the last dimension
  std::string shape_string() const;
};

// f16/bf16 tensors are converted on the host (round to nearest even).
void upload(vk::Arena& arena, const Tensor& dst, std::span<const float> values);
std::vector<float> download(vk::Arena& arena, const Tensor& src);
void upload(vk::Arena& arena, const Tensor& dst, std::span<const int32_t> values);  // i32 tensors
std::vector<int32_t> download_i32(vk::Arena& arena, const Tensor& src);

}  // namespace alpha
