// Text inputs for training and data preparation: files, globs and folders (recursive; text-like
// names only: .txt .text .md .jsonl or none), read whole. Plain files are one document each;
// .jsonl files one per line (its "text" field). Bad inputs are clear errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace alpha::tok {

struct InputFile {
  std::string path;
  std::string bytes;  // the file's contents
};

class TextInputs {
 public:
  TextInputs() = default;
  TextInputs(TextInputs&&) = default;  // moves keep the views valid (heap buffers move)
  TextInputs& operator=(TextInputs&&) = default;
  TextInputs(const TextInputs&) = delete;

  std::vector<InputFile> files;      // sorted by path, each once
  std::vector<std::string> decoded;  // .jsonl "text" fields (owned here)

  // Views into files/decoded, in file order.
  const std::vector<std::string_view>& documents() const { return documents_; }
  uint64_t total_bytes() const;

 private:
  friend TextInputs read_text_inputs(const std::vector<std::string>& specs);
  std::vector<std::string_view> documents_;
};

// Expands the specs to files without reading them (sorted, unique); throws on a missing path,
// a glob with no match or a folder with no files.
std::vector<std::string> expand_inputs(const std::vector<std::string>& specs);

TextInputs read_text_inputs(const std::vector<std::string>& specs);

}  // namespace alpha::tok
