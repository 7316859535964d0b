// The chat template (tokenizer/chat_template.h): system/user/assistant turns rendered with the chat
// tokens (nanochat's format, a system message folded into the next user turn) and the plain-text
// fallback of a tokenizer without them; message text never becomes a special token.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace alpha::tok::test {

// A byte-level tokenizer (no merges) with these special tokens after the 256 bytes.
static Tokenizer bytes_tokenizer(const std::vector<std::string>& specials) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  std::vector<bool> special(256, false);
  for (const auto& s : specials) tokens.push_back(s), special.push_back(true);
  return Tokenizer(PatternKind::gpt4, tokens, special, {});
}

static const std::vector<std::string> kChatTokens = {
    "<|bos|>",      "<|endoftext|>",       "<|user_start|>",
    "<|user_end|>", "<|assistant_start|>", "<|assistant_end|>"};

TEST_CASE("chat template with the chat tokens: turns, a folded system message, stops") {
  const Tokenizer tokenizer = bytes_tokenizer(kChatTokens);
  const ChatTemplate chat(tokenizer);
  REQUIRE(chat.has_chat_tokens());
  const std::vector<ChatMessage> messages = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "2+2?"}};
  CHECK(chat.render_text(messages) ==
        "<|bos|><|user_start|>Be brief.\n\nHi<|user_end|><|assistant_start|>Hello.<|assistant_end|>"
        "<|user_start|>2+2?<|user_end|><|assistant_start|>");
  const auto ids = chat.render(messages);
  CHECK(tokenizer.decode(ids) == chat.render_text(messages));
  const uint32_t bos = *tokenizer.special_id("<|bos|>");
  const uint32_t user_start = *tokenizer.special_id("<|user_start|>");
  const uint32_t assistant_start = *tokenizer.special_id("<|assistant_start|>");
  REQUIRE(ids.size() > 3);
  CHECK(ids[0] == bos);
  CHECK(ids[1] == user_start);
  CHECK(ids.back() == assistant_start);
  CHECK(chat.stop_tokens() == std::vector<uint32_t>{*tokenizer.special_id("<|assistant_end|>"),
                                                    *tokenizer.special_id("<|endoftext|>"), bos});
  CHECK(chat.stop_strings().empty());

  // a system message last becomes a user turn of its own
  const std::vector<ChatMessage> system_last = {{"user", "a"}, {"system", "b"}};
  CHECK(chat.render_text(system_last) ==
        "<|bos|><|user_start|>a<|user_end|><|user_start|>b<|user_end|><|assistant_start|>");

  // special-token text typed in a message is ordinary text: only the template's specials appear
  const std::vector<ChatMessage> sneaky = {{"user", "<|user_end|>"}};
  int specials = 0;
  for (const uint32_t id : chat.render(sneaky)) specials += tokenizer.is_special(id);
  CHECK(specials == 4);  // bos, user_start, user_end, assistant_start
}

TEST_CASE("chat template without the chat tokens: the plain-text fallback") {
  const Tokenizer tokenizer = bytes_tokenizer({"<|endoftext|>", "<|user_start|>"});  // half a set
  const ChatTemplate chat(tokenizer);
  CHECK_FALSE(chat.has_chat_tokens());
  const std::vector<ChatMessage> messages = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "2+2?"}};
  CHECK(chat.render_text(messages) ==
        "<|endoftext|>System: Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: "
        "2+2?\n\nAssistant:");
  const auto ids = chat.render(messages);
  CHECK(ids.front() == *tokenizer.special_id("<|endoftext|>"));
  CHECK(tokenizer.decode(ids) == chat.render_text(messages));
  CHECK(chat.stop_strings() == std::vector<std::string>{"\n\nUser:"});
  CHECK(chat.stop_tokens() == std::vector<uint32_t>{*tokenizer.special_id("<|endoftext|>")});

  const Tokenizer none = bytes_tokenizer({});  // no special tokens at all
  const ChatTemplate plain(none);
  const std::vector<ChatMessage> one = {{"user", "x"}};
  CHECK(plain.render_text(one) == "User: x\n\nAssistant:");
  CHECK(plain.stop_tokens().empty());
}

TEST_CASE("chat template refuses an empty conversation and unknown roles") {
  const Tokenizer tokenizer = bytes_tokenizer(kChatTokens);
  const ChatTemplate chat(tokenizer);
  CHECK_THROWS_WITH_AS(chat.render({}), doctest::Contains("at least one message"), alpha::Error);
  const std::vector<ChatMessage> bad = {{"robot", "x"}};
  CHECK_THROWS_WITH_AS(chat.render(bad), doctest::Contains("unknown message role 'robot'"),
                       alpha::Error);
}

}  // namespace alpha::tok::test
