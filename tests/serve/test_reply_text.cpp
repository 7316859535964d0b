// ReplyText (serve/reply_text.h): what a streamed reply may send as its tokens' bytes arrive. A
// UTF-8 character split across tokens is never sent broken, text that could begin a stop string is
// held back until it is known not to, and a stop string ends the reply (it and what follows
// unsent).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "serve/reply_text.h"

namespace alpha::serve {

// Pushes each piece and returns what was sent after each, then what finish() gives.
static std::vector<std::string> feed(ReplyText& reply, const std::vector<std::string>& pieces) {
  std::vector<std::string> sent;
  for (const auto& piece : pieces) sent.push_back(reply.push(piece));
  sent.push_back(reply.finish());
  return sent;
}

TEST_CASE("incomplete_utf8_tail counts the bytes of an unfinished last character") {
  CHECK(incomplete_utf8_tail("") == 0);
  CHECK(incomplete_utf8_tail("abc") == 0);
  CHECK(incomplete_utf8_tail("a\xC3") == 1);             // é's lead byte
  CHECK(incomplete_utf8_tail("a\xC3\xA9") == 0);         // é whole
  CHECK(incomplete_utf8_tail("\xE2\x82") == 2);          // € missing its last byte
  CHECK(incomplete_utf8_tail("\xF0\x9F\x98") == 3);      // 😀 missing one
  CHECK(incomplete_utf8_tail("\xF0\x9F\x98\x80") == 0);  // 😀 whole
  CHECK(incomplete_utf8_tail("\x80\x80\x80\x80") == 0);  // continuation bytes only: invalid
}

TEST_CASE("a character split across tokens is sent once whole") {
  ReplyText reply({});
  // "é€😀!" in pieces that cut each character
  const auto sent = feed(reply, {"a\xC3", "\xA9\xE2", "\x82", "\xAC\xF0\x9F", "\x98", "\x80!"});
  CHECK(sent ==
        std::vector<std::string>{"a", "\xC3\xA9", "", "\xE2\x82\xAC", "", "\xF0\x9F\x98\x80!", ""});
  for (const auto& piece : sent) CHECK(incomplete_utf8_tail(piece) == 0);
  CHECK_FALSE(reply.stopped());
}

TEST_CASE("finish sends what was held back, an unfinished character too") {
  ReplyText reply({});
  CHECK(reply.push("ok\xE2\x82") == "ok");
  CHECK(reply.finish() == "\xE2\x82");
  CHECK(reply.finish().empty());
}

TEST_CASE("text that could begin a stop string is held back, then released") {
  ReplyText reply({"\n\nUser:"});
  CHECK(reply.push("Hello\n") == "Hello");      // "\n" may begin the stop string
  CHECK(reply.push("\nUs") == "");              // "\n\nUs" still may
  CHECK(reply.push("ually") == "\n\nUsually");  // it did not
  CHECK(reply.push(" fine.") == " fine.");
  CHECK_FALSE(reply.stopped());
  CHECK(reply.push("\n\n") == "");
  CHECK(reply.finish() == "\n\n");  // the reply ended without the stop string: held text is sent
}

TEST_CASE("a stop string ends the reply: it and the rest are cut") {
  ReplyText reply({"\n\nUser:", "STOP"});
  CHECK(reply.push("Answer.\n") == "Answer.");
  CHECK(reply.push("\nUser: more") == "");  // the held "\n" began the stop string
  CHECK(reply.stopped());
  CHECK(reply.push("after") == "");
  CHECK(reply.finish().empty());

  ReplyText inside({"STOP"});  // a stop string within one token, text before it sent
  CHECK(inside.push("abcSTOPdef") == "abc");
  CHECK(inside.stopped());

  ReplyText split({"STOP"});  // a stop string across tokens
  CHECK(split.push("xyST") == "xy");
  CHECK(split.push("OP") == "");
  CHECK(split.stopped());

  ReplyText earliest({"B", "AB"});  // two stop strings: the reply ends at the earlier one
  CHECK(earliest.push("xAB") == "x");
  CHECK(earliest.stopped());
}

TEST_CASE("empty stop strings are ignored") {
  ReplyText reply({""});
  CHECK(reply.push("text") == "text");
  CHECK_FALSE(reply.stopped());
}

}  // namespace alpha::serve
