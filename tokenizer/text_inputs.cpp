// Expands input specs (glob(3), recursive folder walk), reads the files and splits .jsonl.
#include "tokenizer/text_inputs.h"

#include <glob.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "tokenizer/file_io.h"

namespace alpha::tok {
namespace {

bool is_glob(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

bool hidden(const std::filesystem::path& p) {
  auto name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Inside folders only text-like names are taken (explicit files and globs take anything), so
// that pointing at data/ skips the token cache, vocabularies and other artifacts.
bool is_text_name(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  return ext.empty() || ext == ".txt" || ext == ".text" || ext == ".md" || ext == ".jsonl";
}

void add_folder(const std::filesystem::path& dir, std::vector<std::string>& out) {
  size_t before = out.size();
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) fail("{}: cannot list folder: {}", dir.string(), ec.message());
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && is_text_name(it->path())) out.push_back(it->path().string());
  }
  if (ec) fail("{}: cannot list folder: {}", dir.string(), ec.message());
  if (out.size() == before)
    fail("{}: folder holds no text files (.txt, .text, .md, .jsonl or no extension)", dir.string());
}

void add_spec(const std::string& spec, std::vector<std::string>& out) {
  std::error_code ec;
  if (std::filesystem::is_directory(spec, ec)) return add_folder(spec, out);
  if (std::filesystem::exists(spec, ec)) {
    out.push_back(spec);
    return;
  }
  if (!is_glob(spec)) fail("{}: no such file or folder", spec);
  glob_t g{};
  int rc = ::glob(spec.c_str(), 0, nullptr, &g);
  if (rc != 0) {
    globfree(&g);
    fail("{}: pattern matches no files", spec);
  }
  size_t before = out.size();
  for (size_t i = 0; i < g.gl_pathc; ++i) {
    std::string p = g.gl_pathv[i];
    if (std::filesystem::is_directory(p, ec))
      add_folder(p, out);
    else if (std::filesystem::is_regular_file(p, ec))
      out.push_back(p);
  }
  globfree(&g);
  if (out.size() == before) fail("{}: pattern matches no files", spec);
}

void split_jsonl(const InputFile& file, std::vector<std::string>& out) {
  std::string_view all = file.bytes;
  size_t pos = 0, line_no = 0, before = out.size();
  while (pos < all.size()) {
    size_t end = all.find('\n', pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view line = all.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      fail("{}:{}: not valid JSON", file.path, line_no);
    }
    if (!j.is_object() || !j.contains("text"))
      fail("{}:{}: JSON line has no \"text\" field", file.path, line_no);
    if (!j["text"].is_string()) fail("{}:{}: \"text\" is not a string", file.path, line_no);
    out.push_back(j["text"].get<std::string>());
  }
  if (out.size() == before) fail("{}: no JSON lines", file.path);
}

}  // namespace

uint64_t TextInputs::total_bytes() const {
  uint64_t n = 0;
  for (auto d : documents_) n += d.size();
  return n;
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& specs) {
  if (specs.empty()) fail("no input given (pass files, folders or globs with --input)");
  std::vector<std::string> files;
  for (const auto& s : specs) add_spec(s, files);
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

TextInputs read_text_inputs(const std::vector<std::string>& specs) {
  TextInputs in;
  for (const auto& path : expand_inputs(specs)) {
    InputFile f{path, read_file(path)};
    if (f.bytes.empty()) fail("{}: file is empty", path);
    if (std::memchr(f.bytes.data(), 0, f.bytes.size()))
      fail("{}: looks like a binary file (it contains NUL bytes); give text or .jsonl", path);
    in.files.push_back(std::move(f));
  }
  // Decode all .jsonl first so that views into `decoded` stay valid.
  std::vector<size_t> first_doc(in.files.size());
  for (size_t i = 0; i < in.files.size(); ++i) {
    first_doc[i] = in.decoded.size();
    if (in.files[i].path.ends_with(".jsonl")) split_jsonl(in.files[i], in.decoded);
  }
  for (size_t i = 0; i < in.files.size(); ++i) {
    if (in.files[i].path.ends_with(".jsonl")) {
      size_t end = i + 1 < in.files.size() ? first_doc[i + 1] : in.decoded.size();
      for (size_t d = first_doc[i]; d < end; ++d) in.documents_.push_back(in.decoded[d]);
    } else {
      in.documents_.push_back(in.files[i].bytes);
    }
  }
  return in;
}

}  // namespace alpha::tok
