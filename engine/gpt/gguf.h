// The GGUF file format, version 3 (llama.cpp's; spec: ggml's docs/gguf.md), f32 and f16 tensors only:
// "GGUF", version, tensor count, metadata count, the typed key/value pairs, one info per tensor
// (name, dims innermost first as ggml's ne, type, offset), padding to the alignment, then the tensors'
// little-endian data, each padded to the alignment. Builds the bytes; which keys and tensors a model
// needs is the caller's business (gguf_gpt2.h), and so is writing them to disk (atomically).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace alpha::gpt {

// GGUF's default alignment, which every tensor offset and the data section keep. A general.alignment
// key in the metadata must say the same.
constexpr uint32_t kGgufAlignment = 32;

// ggml_type values of the tensor data.
enum class GgufType : uint32_t { f32 = 0, f16 = 1 };

// A metadata value: GGUF's UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY of STRING, ARRAY of INT32.
using GgufValue = std::variant<uint32_t, int32_t, float, bool, std::string, std::vector<std::string>,
                               std::vector<int32_t>>;

struct GgufKv {
  std::string key;
  GgufValue value;
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> shape;  // row-major, outermost first as in torch; written reversed (ggml's ne)
  GgufType type = GgufType::f32;
  std::vector<float> data;     // product(shape) floats; rounded to f16 on the way out if type is f16
};

// The whole file. Keys and tensors keep the given order. Throws alpha::Error on an empty or duplicate
// key or name, a name of 64 bytes or more (ggml's limit), more than 4 dims, a shape that does not
// match the data, or a general.alignment other than kGgufAlignment.
std::string gguf_bytes(const std::vector<GgufKv>& metadata, const std::vector<GgufTensor>& tensors);

}  // namespace alpha::gpt
