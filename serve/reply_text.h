// A reply's text as its tokens arrive: what may be sent to the client now. It holds back a UTF-8
// character split across tokens (sent once whole) and any tail that could be the start of a stop
// string, and ends the reply before the first stop string (which is not sent). follow_reply drives
// a scheduler's generation through it. Shared by the server's streaming and non-streaming answers
// and by `alpha chat`.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "serve/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace alpha::serve {

class ReplyText {
 public:
  explicit ReplyText(std::vector<std::string> stop_strings);

  // Adds a token's bytes; returns the text that is now safe to send (maybe empty). After a stop
  // string, stopped() is true and later calls return "".
  std::string push(std::string_view bytes);
  // The end of the reply (a stop token or the limit): whatever was held back, incomplete UTF-8 too.
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stop_strings_;
  std::string pending_;  // received, not yet sent
  bool stopped_ = false;
};

// Bytes at the end of `text` that start a UTF-8 character whose remaining bytes have not arrived.
size_t incomplete_utf8_tail(std::string_view text);

}  // namespace alpha::serve

namespace alpha::serve {

struct ReplyOutcome {
  Finish finish =
      Finish::error;  // stop (stop token or string), length, cancelled (receiver gone), error
  std::string error;
  int completion_tokens = 0;  // tokens drawn for the reply, up to the one that ended it
};

// Follows `generation` to its end: each token's bytes go through `reply`, every piece of text that
// is ready goes to on_text (false: the receiver is gone). A stop string, or the receiver gone
// (on_text false, or is_gone() true, polled between tokens), cancels the generation, which frees
// its slot.
ReplyOutcome follow_reply(Generation& generation, const tok::Tokenizer& tokenizer, ReplyText& reply,
                          const std::function<bool(std::string_view)>& on_text,
                          const std::function<bool()>& is_gone);

}  // namespace alpha::serve
