// The safetensors file format: an 8-byte little-endian header length N, N bytes of JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {...}} (padded with spaces to a multiple of
// 8 when written here), then the tensors' raw little-endian bytes back to back. safetensors_bytes
// builds a file of float32 tensors (writing it to disk, atomically, is the caller's job);
// SafetensorsFile reads and validates one and widens F32, F16 and BF16 tensors to f32.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
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

// One tensor of a file as its header describes it.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as the header names it: F32, F16, BF16, I64, BOOL, ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range in the data section
  int64_t numel() const;
};

// A validated file in memory. The checks, each a one-line alpha::Error naming the file and the
// problem: the header length fits the file (and 100 MB, the reference reader's limit); the header
// is UTF-8 JSON, an object starting with '{' whose names are unique; every tensor has a known
// dtype, a shape of non-negative integers and data_offsets [begin, end] whose length is the shape's
// bytes; taken in offset order the tensors start at 0, follow each other with no gap or overlap and
// end at the end of the file; __metadata__, if present, maps strings to strings.
class SafetensorsFile {
 public:
  static SafetensorsFile read(const std::filesystem::path& path);
  // `bytes` is a whole file; `name` stands for it in errors.
  static SafetensorsFile parse(std::string bytes, std::string name);

  const std::string& name() const { return name_; }
  const std::vector<SafetensorsEntry>& tensors() const { return tensors_; }  // in data order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(std::string_view tensor) const;  // null when absent
  // The elements as f32: F32 as stored, F16 and BF16 widened exactly. Any other dtype is an
  // alpha::Error saying which dtypes alpha reads.
  std::vector<float> floats(const SafetensorsEntry& entry) const;

 private:
  std::string name_, bytes_;
  uint64_t data_start_ = 0;
  std::vector<SafetensorsEntry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace alpha::gpt
