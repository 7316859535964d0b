// The chat template: how a conversation (system/user/assistant messages) becomes the tokens a model
// continues with its reply, and which tokens end that reply. One function for data preparation,
// `alpha serve` and `alpha chat`, so a model is always prompted the way it is trained to be.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace alpha::tok {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// With the chat tokens (<|bos|>, <|user_start|>, <|user_end|>, <|assistant_start|>,
// <|assistant_end|>, all reserved by the trainer), nanochat's format:
//   <|bos|> <|user_start|>SYSTEM\n\nUSER<|user_end|> <|assistant_start|>REPLY<|assistant_end|> ...
//   <|assistant_start|>
// (no spaces: special tokens and encoded text follow each other; a system message is folded into
// the next user turn, as nanochat does). A tokenizer without them gets the plain-text template:
//   [<|endoftext|>]System: SYSTEM\n\nUser: USER\n\nAssistant: REPLY\n\nUser: ...\n\nAssistant:
// and its replies end at "\n\nUser:" (chat_stop_strings). Message text is encoded as ordinary text:
// "<|user_end|>" typed by a user is never a special token.
struct ChatTemplate {
  explicit ChatTemplate(const Tokenizer& tokenizer);

  bool has_chat_tokens() const { return user_start_.has_value(); }
  // The prompt ending where the assistant's next reply begins. Throws alpha::Error on an unknown
  // role or an empty conversation.
  std::vector<uint32_t> render(std::span<const ChatMessage> messages) const;
  // The same prompt as text, special tokens written out (what `alpha sample --special` reads back).
  std::string render_text(std::span<const ChatMessage> messages) const;
  // Tokens that end a reply (<|assistant_end|>, <|endoftext|>, <|bos|> where present).
  std::vector<uint32_t> stop_tokens() const;
  // Text that ends a reply: none with the chat tokens, "\n\nUser:" with the plain-text template.
  std::vector<std::string> stop_strings() const;

 private:
  // The prompt as pieces: text to encode ordinarily, or a special token's id.
  struct Piece {
    std::string text;
    std::optional<uint32_t> special;
  };
  std::vector<Piece> pieces(std::span<const ChatMessage> messages) const;

  const Tokenizer& tokenizer_;
  std::optional<uint32_t> bos_, end_of_text_, user_start_, user_end_, assistant_start_,
      assistant_end_;
};

}  // namespace alpha::tok
