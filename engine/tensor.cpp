// Tensor sizes and host transfers (see tensor.h).
#include "engine/tensor.h"

#include <fmt/format.h>

#include "common/error.h"
#include "engine/half.h"

namespace alpha {

size_t dtype_bytes(DType dtype) { return dtype == DType::f32 || dtype == DType::i32 ? 4 : 2; }

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i32: return "i32";
  }
  return "?";
}

Tensor Tensor::empty(vk::Arena& arena, std::vector<int64_t> shape, DType dtype) {
  Tensor t{std::move(shape), dtype, {}};
  for (int64_t d : t.shape)
    if (d <= 0) fail("tensor shape {} has a dimension that is not positive", t.shape_string());
  t.slice = arena.allocate(t.bytes());
  return t;
}

Tensor Tensor::of(vk::Arena& arena, std::span<const float> values) {
  Tensor t = empty(arena, {static_cast<int64_t>(values.size())});
  upload(arena, t, values);
  return t;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t Tensor::rows() const { return shape.empty() ? 1 : numel() / shape.back(); }
int64_t Tensor::cols() const { return shape.empty() ? 1 : shape.back(); }

std::string Tensor::shape_string() const { return fmt::format("({})", fmt::join(shape, ", ")); }

void upload(vk::Arena& arena, const Tensor& dst, std::span<const float> values) {
  if (values.size() != static_cast<size_t>(dst.numel()) || dst.dtype == DType::i32)
    fail("upload: {} floats into a {} tensor of shape {}", values.size(), dtype_name(dst.dtype), dst.shape_string());
  if (dst.dtype == DType::f32) return arena.upload(dst.slice, values.data(), values.size_bytes());
  std::vector<uint16_t> packed(values.size());
  for (size_t i = 0; i < values.size(); ++i)
    packed[i] = dst.dtype == DType::f16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
  arena.upload(dst.slice, packed.data(), packed.size() * 2);
}

std::vector<float> download(vk::Arena& arena, const Tensor& src) {
  if (src.dtype == DType::i32) fail("download: an i32 tensor read as floats; use download_i32");
  std::vector<float> values(src.numel());
  if (src.dtype == DType::f32) {
    arena.download(src.slice, values.data(), src.bytes());
    return values;
  }
  std::vector<uint16_t> packed(values.size());
  arena.download(src.slice, packed.data(), src.bytes());
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = src.dtype == DType::f16 ? f16_to_f32(packed[i]) : bf16_to_f32(packed[i]);
  return values;
}

void upload(vk::Arena& arena, const Tensor& dst, std::span<const int32_t> values) {
  if (dst.dtype != DType::i32 || values.size() != static_cast<size_t>(dst.numel()))
    fail("upload: {} ints into a {} tensor of shape {}", values.size(), dtype_name(dst.dtype), dst.shape_string());
  arena.upload(dst.slice, values.data(), values.size_bytes());
}

std::vector<int32_t> download_i32(vk::Arena& arena, const Tensor& src) {
  if (src.dtype != DType::i32) fail("download_i32: the tensor is {}", dtype_name(src.dtype));
  std::vector<int32_t> values(src.numel());
  arena.download(src.slice, values.data(), src.bytes());
  return values;
}

}  // namespace alpha
