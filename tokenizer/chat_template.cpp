// The chat template (see chat_template.h).
#include "tokenizer/chat_template.h"

#include "common/error.h"

namespace alpha::tok {

ChatTemplate::ChatTemplate(const Tokenizer& tokenizer)
    : tokenizer_(tokenizer),
      bos_(tokenizer.special_id("<|bos|>")),
      end_of_text_(tokenizer.special_id("<|endoftext|>")) {
  const auto user_start = tokenizer.special_id("<|user_start|>"),
             user_end = tokenizer.special_id("<|user_end|>");
  const auto assistant_start = tokenizer.special_id("<|assistant_start|>");
  const auto assistant_end = tokenizer.special_id("<|assistant_end|>");
  // all four or the plain-text template: half a set cannot frame a conversation
  if (user_start && user_end && assistant_start && assistant_end) {
    user_start_ = user_start, user_end_ = user_end;
    assistant_start_ = assistant_start, assistant_end_ = assistant_end;
  }
}

std::vector<ChatTemplate::Piece> ChatTemplate::pieces(std::span<const ChatMessage> messages) const {
  if (messages.empty()) fail("a chat needs at least one message");
  for (const auto& m : messages)
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      fail("unknown message role '{}' (system, user or assistant)", m.role);
  std::vector<Piece> out;
  auto special = [&](std::optional<uint32_t> id) {
    if (id) out.push_back({"", id});
  };
  auto text = [&](std::string s) { out.push_back({std::move(s), std::nullopt}); };
  if (has_chat_tokens()) {
    special(bos_ ? bos_ : end_of_text_);
    std::string system;  // folded into the next user message
    for (const auto& m : messages) {
      if (m.role == "system") {
        system += (system.empty() ? "" : "\n\n") + m.content;
      } else if (m.role == "user") {
        special(user_start_);
        text(system.empty() ? m.content : system + "\n\n" + m.content);
        system.clear();
        special(user_end_);
      } else {
        special(assistant_start_);
        text(m.content);
        special(assistant_end_);
      }
    }
    if (!system.empty())
      special(user_start_), text(system), special(user_end_);  // a system message last
    special(assistant_start_);
  } else {
    special(end_of_text_);
    std::string prompt;
    for (const auto& m : messages) {
      const char* name = m.role == "system" ? "System" : m.role == "user" ? "User" : "Assistant";
      prompt += std::string(name) + ": " + m.content + "\n\n";
    }
    text(prompt + "Assistant:");
  }
  return out;
}

std::vector<uint32_t> ChatTemplate::render(std::span<const ChatMessage> messages) const {
  std::vector<uint32_t> ids;
  for (const Piece& p : pieces(messages)) {
    if (p.special) {
      ids.push_back(*p.special);
    } else {
      const auto encoded = tokenizer_.encode(p.text);
      ids.insert(ids.end(), encoded.begin(), encoded.end());
    }
  }
  return ids;
}

std::string ChatTemplate::render_text(std::span<const ChatMessage> messages) const {
  std::string text;
  for (const Piece& p : pieces(messages))
    text += p.special ? tokenizer_.token_bytes(*p.special) : p.text;
  return text;
}

std::vector<uint32_t> ChatTemplate::stop_tokens() const {
  std::vector<uint32_t> ids;
  for (const auto& id : {assistant_end_, end_of_text_, bos_})
    if (id) ids.push_back(*id);
  return ids;
}

std::vector<std::string> ChatTemplate::stop_strings() const {
  if (has_chat_tokens()) return {};
  return {"\n\nUser:"};
}

}  // namespace alpha::tok
