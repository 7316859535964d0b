// Detects which kind of tokenizer a path holds and loads it.
#include "tokenizer/load.h"

#include "common/error.h"
#include "tokenizer/artifact.h"
#include "tokenizer/gpt2_files.h"
#include "tokenizer/text_inputs.h"
#include "tokenizer/tiktoken_file.h"

namespace alpha::tok {

Tokenizer load_tokenizer(const std::filesystem::path& path) {
  std::error_code ec;
  if (path.empty()) fail("--tokenizer: no path given");
  if (!std::filesystem::exists(path, ec))
    fail(
        "{}: tokenizer not found (give an alpha artifact, a tiktoken rank file, or a folder with "
        "GPT-2's encoder.json + vocab.bpe)",
        path.string());
  if (std::filesystem::is_directory(path, ec)) {
    auto enc = path / "encoder.json", bpe = path / "vocab.bpe";
    if (!std::filesystem::exists(enc, ec) || !std::filesystem::exists(bpe, ec))
      fail("{}: folder has no encoder.json + vocab.bpe (GPT-2 vocabulary files)", path.string());
    return load_gpt2_files(enc, bpe);
  }
  if (std::filesystem::file_size(path, ec) == 0) fail("{}: tokenizer file is empty", path.string());
  if (looks_like_artifact(path)) return load_artifact(path);
  if (looks_like_tiktoken(path)) return load_tiktoken_file(path);
  fail("{}: not a tokenizer (neither an alpha artifact nor a tiktoken rank file)", path.string());
}

Tokenizer load_or_train_tokenizer(const std::filesystem::path& path,
                                  const std::vector<std::string>& inputs,
                                  const TrainOptions& options, bool* trained) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    if (trained) *trained = false;
    return load_tokenizer(path);
  }
  TextInputs text = read_text_inputs(inputs);
  Tokenizer tok = train_tokenizer(text.documents(), options);
  save_artifact(tok, path);
  if (trained) *trained = true;
  return tok;
}

}  // namespace alpha::tok
