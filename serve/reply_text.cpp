// Stop strings and UTF-8 boundaries of a streamed reply (see reply_text.h).
#include "serve/reply_text.h"

#include <algorithm>

namespace alpha::serve {

size_t incomplete_utf8_tail(std::string_view text) {
  // look back over at most 3 continuation bytes for the lead byte of the last character
  for (size_t back = 1; back <= std::min<size_t>(4, text.size()); ++back) {
    const auto byte = static_cast<unsigned char>(text[text.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte
    const size_t length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;  // only continuation bytes: invalid UTF-8, nothing to wait for
}

ReplyText::ReplyText(std::vector<std::string> stop_strings)
    : stop_strings_(std::move(stop_strings)) {
  std::erase_if(stop_strings_, [](const std::string& s) { return s.empty(); });
}

std::string ReplyText::push(std::string_view bytes) {
  if (stopped_) return "";
  pending_ += bytes;
  size_t first_stop = std::string::npos;
  for (const auto& stop : stop_strings_) first_stop = std::min(first_stop, pending_.find(stop));
  if (first_stop != std::string::npos) {
    stopped_ = true;
    std::string text = pending_.substr(0, first_stop);
    pending_.clear();
    return text;
  }
  // hold back the longest tail that a stop string starts with, and an unfinished character
  size_t hold = incomplete_utf8_tail(pending_);
  for (const auto& stop : stop_strings_)
    for (size_t n = std::min(stop.size() - 1, pending_.size()); n > hold; --n)
      if (std::string_view(pending_).substr(pending_.size() - n) ==
          std::string_view(stop).substr(0, n)) {
        hold = n;
        break;
      }
  std::string text = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return text;
}

std::string ReplyText::finish() {
  std::string text = std::move(pending_);
  pending_.clear();
  return text;
}

}  // namespace alpha::serve

namespace alpha::serve {

ReplyOutcome follow_reply(Generation& generation, const tok::Tokenizer& tokenizer, ReplyText& reply,
                          const std::function<bool(std::string_view)>& on_text,
                          const std::function<bool()>& is_gone) {
  int received = 0;
  auto gone = [&] {
    generation.cancel();
    return ReplyOutcome{Finish::cancelled, "", received};
  };
  for (;;) {
    const auto update = generation.wait(std::chrono::milliseconds(50));
    for (const int32_t token : update.tokens) {
      ++received;
      const std::string text = reply.push(tokenizer.token_bytes(static_cast<uint32_t>(token)));
      if (!text.empty() && !on_text(text)) return gone();
      if (reply.stopped()) {
        generation.cancel();
        return {Finish::stop, "", received};
      }
    }
    if (update.finish) {
      if (*update.finish == Finish::error)
        return {Finish::error, update.error, update.completion_tokens};
      const std::string rest = reply.finish();
      if (!rest.empty() && !on_text(rest)) return gone();
      return {*update.finish, "", update.completion_tokens};
    }
    if (is_gone()) return gone();
  }
}

}  // namespace alpha::serve
