// safetensors writing and reading (see safetensors.h).
#include "engine/gpt/safetensors.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/error.h"
#include "engine/half.h"

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

// --- reading ---

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference (Rust) reader's limit

// Every dtype the format defines, with its element size in bytes.
constexpr std::pair<std::string_view, uint64_t> kDtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};

uint64_t dtype_size(std::string_view dtype) {
  for (const auto& [name, size] : kDtypes)
    if (name == dtype) return size;
  return 0;
}

// Parses the header JSON; names used twice (at the top level or inside one tensor) are refused,
// which nlohmann::json would otherwise let the last one win.
nlohmann::json parse_header(std::string_view text, const std::string& file) {
  std::set<std::string> names, fields;
  auto unique_keys = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start && depth == 1) fields.clear();
    if (event == Event::key && depth <= 2 &&
        !(depth == 1 ? names : fields).insert(parsed.get<std::string>()).second)
      fail("{}: the header names '{}' twice", file, parsed.get<std::string>());
    return true;
  };
  try {
    return nlohmann::json::parse(text, unique_keys);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: the header is not valid JSON ({})", file, e.what());
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  return nlohmann::json(shape).dump();
}

// One header entry -> SafetensorsEntry; `data_bytes` is the size of the data section.
SafetensorsEntry read_entry(const std::string& name, const nlohmann::json& info,
                            uint64_t data_bytes, const std::string& file) {
  if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") ||
      !info.contains("data_offsets"))
    fail("{}: tensor '{}' is not an object with dtype, shape and data_offsets", file, name);
  const auto& dtype = info["dtype"];
  const auto& shape = info["shape"];
  const auto& offsets = info["data_offsets"];
  SafetensorsEntry entry{name};
  if (!dtype.is_string() || dtype_size(dtype.get<std::string>()) == 0)
    fail("{}: tensor '{}' has the unknown dtype {}", file, name, dtype.dump());
  entry.dtype = dtype.get<std::string>();
  if (!shape.is_array()) fail("{}: tensor '{}' has a shape that is not a list", file, name);
  uint64_t bytes = dtype_size(entry.dtype);
  bool overflow = false;
  for (const auto& d : shape) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(INT64_MAX))
      fail("{}: tensor '{}' has the shape {}, not a list of non-negative integers", file, name,
           shape.dump());
    entry.shape.push_back(d.get<int64_t>());
    overflow = overflow || __builtin_mul_overflow(bytes, d.get<uint64_t>(), &bytes);
  }
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    fail("{}: tensor '{}' has data_offsets {}, not [begin, end]", file, name, offsets.dump());
  entry.begin = offsets[0].get<uint64_t>(), entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end || entry.end > data_bytes)
    fail("{}: tensor '{}' has data_offsets {} outside the {} bytes of data", file, name,
         offsets.dump(), data_bytes);
  if (overflow || entry.end - entry.begin != bytes)
    fail("{}: tensor '{}' has {} bytes at data_offsets {}, its shape {} of {} needs {}", file, name,
         entry.end - entry.begin, offsets.dump(), shape_text(entry.shape), entry.dtype,
         overflow ? std::string("more than 2^64") : std::to_string(bytes));
  return entry;
}

}  // namespace

int64_t SafetensorsEntry::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open it ({})", path.string(), std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("{}: cannot read it", path.string());
  return parse(std::move(bytes), path.string());
}

SafetensorsFile SafetensorsFile::parse(std::string bytes, std::string name) {
  SafetensorsFile file;
  file.name_ = std::move(name);
  file.bytes_ = std::move(bytes);
  const std::string& f = file.name_;
  const uint64_t size = file.bytes_.size();
  if (size < 8)
    fail(
        "{}: {} bytes is too short for a safetensors file (it starts with an 8-byte header length)",
        f, size);
  uint64_t header_bytes = 0;
  std::memcpy(&header_bytes, file.bytes_.data(), 8);
  if (header_bytes > kMaxHeaderBytes)
    fail("{}: the header length {} is over the format's limit of {} bytes: not a safetensors file",
         f, header_bytes, kMaxHeaderBytes);
  if (header_bytes > size - 8)
    fail("{}: the header length {} runs past the end of the file ({} bytes): truncated?", f,
         header_bytes, size);
  const std::string_view text(file.bytes_.data() + 8, header_bytes);
  if (text.empty() || text[0] != '{') fail("{}: the header does not start with '{{'", f);
  const nlohmann::json header = parse_header(text, f);
  if (!header.is_object()) fail("{}: the header is not a JSON object", f);
  file.data_start_ = 8 + header_bytes;
  const uint64_t data_bytes = size - file.data_start_;

  for (const auto& [key, value] : header.items()) {
    if (key != "__metadata__") {
      file.tensors_.push_back(read_entry(key, value, data_bytes, f));
      continue;
    }
    if (!value.is_object()) fail("{}: __metadata__ is not an object", f);
    for (const auto& [meta_key, meta_value] : value.items()) {
      if (!meta_value.is_string())
        fail("{}: __metadata__ '{}' is {}, not a string", f, meta_key, meta_value.dump());
      file.metadata_[meta_key] = meta_value.get<std::string>();
    }
  }
  // In offset order the tensors tile the data section exactly.
  auto& tensors = file.tensors_;
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  uint64_t at = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].begin < at)
      fail("{}: tensors '{}' and '{}' overlap (bytes {} to {} of the data)", f, tensors[i - 1].name,
           tensors[i].name, tensors[i].begin, at);
    if (tensors[i].begin > at)
      fail("{}: {} bytes of the data before tensor '{}' belong to no tensor", f,
           tensors[i].begin - at, tensors[i].name);
    at = tensors[i].end;
  }
  if (at != data_bytes)
    fail("{}: {} bytes of the data after the last tensor belong to no tensor", f, data_bytes - at);
  return file;
}

const SafetensorsEntry* SafetensorsFile::find(std::string_view tensor) const {
  for (const auto& entry : tensors_)
    if (entry.name == tensor) return &entry;
  return nullptr;
}

std::vector<float> SafetensorsFile::floats(const SafetensorsEntry& entry) const {
  const char* data = bytes_.data() + data_start_ + entry.begin;
  std::vector<float> values(entry.numel());
  auto widen = [&](float (*convert)(uint16_t)) {
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, data + 2 * i, 2);
      values[i] = convert(bits);
    }
  };
  if (entry.dtype == "F32")
    std::memcpy(values.data(), data, values.size() * sizeof(float));
  else if (entry.dtype == "F16")
    widen(f16_to_f32);
  else if (entry.dtype == "BF16")
    widen(bf16_to_f32);
  else
    fail("{}: tensor '{}' is {}; alpha reads F32, F16 and BF16 tensors only", name_, entry.name,
         entry.dtype);
  return values;
}

}  // namespace alpha::gpt
