#include "gateway/http_request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

using Event = HttpRequestParser::Event;

struct Outcome {
  Event event = Event::kNeedMore;
  size_t consumed = 0;
};

// Feeds `text` whole; at the head sets `body_limit`; stops at the request or an error.
Outcome Parse(HttpRequestParser& parser, std::string_view text, size_t body_limit = 1 << 20) {
  Outcome out;
  while (true) {
    size_t used = 0;
    Event e = parser.Feed(text.substr(out.consumed), &used);
    out.consumed += used;
    out.event = e;
    if (e == Event::kHead) {
      if (parser.SetBodyLimit(body_limit)) return {Event::kError, out.consumed};
      continue;
    }
    return out;
  }
}

TEST(HttpRequestParser, ParsesARequestWithABody) {
  HttpRequestParser parser;
  std::string text =
      "POST /v1/executions?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\n\r\n{}";
  Outcome out = Parse(parser, text);
  ASSERT_EQ(out.event, Event::kRequest);
  EXPECT_EQ(out.consumed, text.size());
  EXPECT_EQ(parser.head().method, "POST");
  EXPECT_EQ(parser.head().target, "/v1/executions?x=1");
  ASSERT_NE(parser.head().Find("content-type"), nullptr);
  EXPECT_EQ(*parser.head().Find("content-type"), "application/json");
  EXPECT_EQ(parser.body(), "{}");
  EXPECT_TRUE(parser.head().keep_alive);
}

TEST(HttpRequestParser, TakesPipelinedRequestsOneAtATime) {
  HttpRequestParser parser;
  std::string one = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string two = "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  std::string text = one + two;
  Outcome first = Parse(parser, text);
  ASSERT_EQ(first.event, Event::kRequest);
  EXPECT_EQ(first.consumed, one.size());
  EXPECT_EQ(parser.head().target, "/a");
  parser.StartNextRequest();
  Outcome second = Parse(parser, std::string_view(text).substr(first.consumed));
  ASSERT_EQ(second.event, Event::kRequest);
  EXPECT_EQ(parser.head().target, "/b");
}

TEST(HttpRequestParser, ParsesByteByByte) {
  HttpRequestParser parser;
  std::string text =
      "POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  size_t pos = 0;
  Event last = Event::kNeedMore;
  while (pos < text.size() && last != Event::kRequest) {
    size_t used = 0;
    last = parser.Feed(std::string_view(text).substr(pos, 1), &used);
    pos += used;
    if (last == Event::kHead) {
      ASSERT_FALSE(parser.SetBodyLimit(100));
    }
    ASSERT_NE(last, Event::kError) << parser.error().message;
  }
  EXPECT_EQ(last, Event::kRequest);
  EXPECT_TRUE(parser.head().chunked);
  EXPECT_EQ(parser.body(), "abcde");
}

struct Refusal {
  const char* name;
  std::string request;
  int status;
  const char* message_part;
};

class Refusals : public ::testing::TestWithParam<Refusal> {};

TEST_P(Refusals, AnswerWithTheirStatus) {
  const Refusal& r = GetParam();
  HttpRequestParser parser;
  Outcome out = Parse(parser, r.request, 1000);
  ASSERT_EQ(out.event, Event::kError) << r.name;
  EXPECT_EQ(parser.error().status, r.status) << parser.error().message;
  EXPECT_NE(parser.error().message.find(r.message_part), std::string::npos)
      << parser.error().message;
}

std::string Head(const std::string& headers) {
  return "POST /v1/executions HTTP/1.1\r\nHost: a\r\n" + headers + "\r\n";
}

INSTANTIATE_TEST_SUITE_P(
    Framing, Refusals,
    ::testing::Values(
        Refusal{"negative length", Head("Content-Length: -5\r\n"), 400, "Content-Length"},
        Refusal{"overflowing length", Head("Content-Length: 18446744073709551617\r\n"), 400,
                "Content-Length"},
        Refusal{"two lengths", Head("Content-Length: 5\r\nContent-Length: 6\r\n"), 400,
                "Content-Length"},
        Refusal{"same length twice", Head("Content-Length: 5\r\nContent-Length: 5\r\n"), 400,
                "Content-Length"},
        Refusal{"length and chunked", Head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
                400, "Transfer-Encoding"},
        Refusal{"unknown coding", Head("Transfer-Encoding: gzip\r\n"), 501, "chunked"},
        Refusal{"declared length over the limit", Head("Content-Length: 1001\r\n"), 413, "1000"},
        Refusal{"chunked body over the limit",
                Head("Transfer-Encoding: chunked\r\n") + "3e9\r\n" + std::string(1001, 'a'), 413,
                "1000"},
        Refusal{"bad chunk size", Head("Transfer-Encoding: chunked\r\n") + "zz\r\n", 400, "chunk"},
        Refusal{"long target", "GET /" + std::string(8200, 'a') + " HTTP/1.1\r\n", 414, "8192"},
        Refusal{"large header",
                "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n", 431,
                "65536"},
        Refusal{"too many headers",
                [] {
                  std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
                  for (int i = 0; i < 101; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
                  return s + "\r\n";
                }(),
                431, "100"},
        Refusal{"no host", "GET / HTTP/1.1\r\n\r\n", 400, "Host"},
        Refusal{"not http", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "malformed"},
        Refusal{"unknown expectation", Head("Expect: something\r\n"), 417, "100-continue"},
        Refusal{"http 2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400, "malformed"},
        // What http_parser lets through unless built strict (found by playing the attacker).
        Refusal{"space before the colon", Head("Content-Length : 5\r\n") + "hello", 400,
                "header name"},
        Refusal{"space inside a name", Head("Content Length: 5\r\n") + "hello", 400, "header name"},
        Refusal{"folded line", Head("Transfer-Encoding:\r\n chunked\r\n"), 400, "folded"},
        Refusal{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "Host"},
        Refusal{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, "Host"},
        Refusal{"unknown version", "GET / HTTP/1.9\r\nHost: a\r\n\r\n", 505, "HTTP/1.1"},
        Refusal{"chunked in http 1.0",
                "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "HTTP/1.0"},
        Refusal{"bare LF in the head", "GET / HTTP/1.1\nHost: a\n\n", 400, "CR"},
        Refusal{"chunk data without its CRLF",
                Head("Transfer-Encoding: chunked\r\n") + "5\r\nhelloXX0\r\n\r\n", 400, "CRLF"},
        Refusal{"LF in a chunk extension",
                Head("Transfer-Encoding: chunked\r\n") +
                    "5;a=\"x\nGET /smuggled HTTP/1.1\r\nhello\r\n0\r\n\r\n",
                400, "chunk"}),
    [](const auto& info) {
      std::string name = info.param.name;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

TEST(HttpRequestParser, AcceptsChunkExtensionsAndTrailers) {
  HttpRequestParser parser;
  Outcome out = Parse(parser, Head("Transfer-Encoding: chunked\r\n") +
                                  "3;name=value\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n");
  ASSERT_EQ(out.event, Event::kRequest) << parser.error().message;
  EXPECT_EQ(parser.body(), "abc");
}

TEST(HttpRequestParser, ReportsTheHeadBeforeTheBody) {
  HttpRequestParser parser;
  std::string head = Head("Content-Length: 5\r\nExpect: 100-continue\r\n");
  size_t used = 0;
  ASSERT_EQ(parser.Feed(head, &used), Event::kHead);
  EXPECT_TRUE(parser.head().expect_continue);
  EXPECT_EQ(parser.head().content_length, 5u);
  EXPECT_FALSE(parser.SetBodyLimit(10));
  size_t more = 0;
  EXPECT_EQ(parser.Feed(std::string_view(head).substr(used), &more), Event::kNeedMore);
  EXPECT_EQ(parser.Feed("hello", &more), Event::kRequest);
  EXPECT_EQ(parser.body(), "hello");
}

TEST(HttpRequestParser, HttpOneZeroClosesUnlessKeptAlive) {
  HttpRequestParser a;
  ASSERT_EQ(Parse(a, "GET / HTTP/1.0\r\n\r\n").event, Event::kRequest);
  EXPECT_FALSE(a.head().keep_alive);
  HttpRequestParser b;
  ASSERT_EQ(Parse(b, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").event, Event::kRequest);
  EXPECT_TRUE(b.head().keep_alive);
  HttpRequestParser c;
  ASSERT_EQ(Parse(c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").event,
            Event::kRequest);
  EXPECT_FALSE(c.head().keep_alive);
}

TEST(HttpRequestParser, CostIsLinearInAHugeHeader) {
  // 5 MiB of one header line, fed in 64 KiB pieces as an attacker would: refused after the
  // limit, having looked at no more than the limit's worth.
  HttpRequestParser parser;
  std::string start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ";
  size_t used = 0;
  ASSERT_EQ(parser.Feed(start, &used), Event::kNeedMore);
  std::string chunk(64 * 1024, 'a');
  Event e = Event::kNeedMore;
  int pieces = 0;
  while (e == Event::kNeedMore && pieces < 80) {
    e = parser.Feed(chunk, &used);
    ++pieces;
  }
  EXPECT_EQ(e, Event::kError);
  EXPECT_EQ(parser.error().status, 431);
  EXPECT_LE(pieces, 2);
}

}  // namespace
}  // namespace sluice
