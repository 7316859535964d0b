// Checkpoint files (see checkpoint.h). Layout: magic "ALPHACKP", version u32, meta length u64, meta
// (JSON text), three arrays (count u64 + floats) for params, m and v, then XXH64 of all bytes before.
#include "engine/train/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "common/error.h"
#include "tokenizer/hash.h"

namespace alpha::train {

static constexpr char kMagic[8] = {'A', 'L', 'P', 'H', 'A', 'C', 'K', 'P'};
static constexpr uint32_t kVersion = 1;

namespace {

template <typename T>
void append(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

void append_floats(std::string& out, const std::vector<float>& values) {
  append(out, static_cast<uint64_t>(values.size()));
  out.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// Reads from a byte range, failing with the file's name on any overrun.
struct Reader {
  const std::string& bytes;
  const std::filesystem::path& path;
  size_t at = 0;
  void take(void* dst, size_t n) {
    if (n > bytes.size() - at) fail("checkpoint {} is truncated", path.string());
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
  }
  template <typename T>
  T get() {
    T value;
    take(&value, sizeof value);
    return value;
  }
  std::vector<float> floats() {
    const auto count = get<uint64_t>();
    if (count > (bytes.size() - at) / sizeof(float)) fail("checkpoint {} is truncated", path.string());
    std::vector<float> values(count);
    take(values.data(), count * sizeof(float));
    return values;
  }
};

}  // namespace

void write_checkpoint(const std::filesystem::path& path, const Checkpoint& c) {
  std::string bytes(kMagic, sizeof kMagic);
  append(bytes, kVersion);
  nlohmann::json meta = c.meta;
  meta["step"] = c.step;
  const std::string text = meta.dump();
  append(bytes, static_cast<uint64_t>(text.size()));
  bytes += text;
  append_floats(bytes, c.params);
  append_floats(bytes, c.adam_m);
  append_floats(bytes, c.adam_v);
  append(bytes, tok::xxh64(bytes.data(), bytes.size()));

  std::filesystem::create_directories(path.parent_path());
  const auto temp = std::filesystem::path(path).concat(fmt::format(".tmp{}", getpid()));
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("cannot write checkpoint {}: {}", temp.string(), std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  const bool ok = written == bytes.size() && fsync(fd) == 0;
  const int error = errno;
  close(fd);
  if (!ok) {
    std::filesystem::remove(temp);
    fail("cannot write checkpoint {}: {} (the previous checkpoints are untouched)", path.string(),
         std::strerror(error));
  }
  std::filesystem::rename(temp, path);
  // the rename itself is durable once the folder is synced
  if (const int dir = open(path.parent_path().c_str(), O_RDONLY); dir >= 0) {
    fsync(dir);
    close(dir);
  }
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open checkpoint {}", path.string());
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < sizeof kMagic + 4 + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    fail("{} is not an alpha checkpoint (or is truncated)", path.string());
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (tok::xxh64(bytes.data(), bytes.size() - 8) != stored)
    fail("checkpoint {} is corrupt or truncated: its checksum does not match", path.string());
  const std::string body = bytes.substr(0, bytes.size() - 8);
  Reader r{body, path, sizeof kMagic};
  if (const auto version = r.get<uint32_t>(); version != kVersion)
    fail("checkpoint {} has format version {}; this alpha reads version {}", path.string(), version, kVersion);
  const auto meta_size = r.get<uint64_t>();
  if (meta_size > body.size() - r.at) fail("checkpoint {} is truncated", path.string());
  Checkpoint c;
  c.meta = nlohmann::json::parse(body.substr(r.at, meta_size), nullptr, false);
  r.at += meta_size;
  if (c.meta.is_discarded() || !c.meta.contains("step")) fail("checkpoint {} has malformed metadata", path.string());
  c.step = c.meta["step"];
  c.params = r.floats();
  c.adam_m = r.floats();
  c.adam_v = r.floats();
  if (c.adam_m.size() != c.params.size() || c.adam_v.size() != c.params.size())
    fail("checkpoint {} has optimizer state of the wrong size", path.string());
  return c;
}

std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, int step) {
  return run_dir / "checkpoints" / fmt::format("step-{:08}.ckpt", step);
}

std::filesystem::path best_checkpoint_path(const std::filesystem::path& run_dir) {
  return run_dir / "checkpoints" / "best.ckpt";
}

std::vector<std::filesystem::path> list_checkpoints(const std::filesystem::path& run_dir) {
  std::vector<std::filesystem::path> paths;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir / "checkpoints", error)) {
    const auto name = entry.path().filename().string();
    if (name.starts_with("step-") && name.ends_with(".ckpt")) paths.push_back(entry.path());
  }
  std::sort(paths.rbegin(), paths.rend());  // zero-padded steps: name order is step order
  return paths;
}

void prune_checkpoints(const std::filesystem::path& run_dir, int keep) {
  const auto paths = list_checkpoints(run_dir);
  for (size_t i = std::max(keep, 1); i < paths.size(); ++i) std::filesystem::remove(paths[i]);
  // A process killed mid-write leaves its temporary file (write_checkpoint's NAME.tmpPID): a
  // full-size partial checkpoint nothing reads. Another live writer's file is never this process's
  // concern either (one trainer per run), so every temporary but our own goes.
  const std::string own = fmt::format(".tmp{}", getpid());
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir / "checkpoints", error)) {
    const auto name = entry.path().filename().string();
    const auto at = name.find(".ckpt.tmp");
    if (at != std::string::npos && !name.ends_with(own))
      std::filesystem::remove(entry.path(), error);
  }
}

}  // namespace alpha::train
