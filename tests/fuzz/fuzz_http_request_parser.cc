// The gateway's HTTP/1.x request parser over a hostile byte stream, as a connection delivers it:
// the stream is fed once whole and once in chunks of random sizes (from a generator seeded by the
// input's first byte), pipelined requests taken one at a time, and both runs must see the same
// requests and the same refusal. Each event is checked against the parser's contract: the
// limits hold (small here, so that inputs reach them), a declared length over the body limit is a
// 413 before the body, a body has its declared length, refusals are among the documented
// statuses, and every call makes progress.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/http_request_parser.h"

namespace {

using sluice::HttpRequestParser;

constexpr sluice::HttpLimits kLimits = {
    .max_request_line = 256, .max_header_bytes = 1024, .max_headers = 8};
constexpr size_t kBodyLimit = 1024;

void Check(bool condition) {
  if (!condition) std::abort();
}

bool IsLower(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

// Chunk sizes from 1 to 64, from a splitmix64 sequence.
class Chunks {
 public:
  explicit Chunks(uint64_t seed) : state_(seed) {}
  size_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return 1 + ((z ^ (z >> 31)) % 64);
  }

 private:
  uint64_t state_;
};

// Feeds `stream` as the chunks arrive (all of it at once when `chunks` is null) and returns what
// the owner of the connection saw: each head, each body, and how the stream ended.
std::string Run(std::string_view stream, Chunks* chunks) {
  HttpRequestParser parser(kLimits);
  std::string trace;
  std::string buffer;  // arrived and not yet consumed
  size_t offset = 0;
  // Each Feed consumes bytes or reports an event that the next call moves past.
  size_t calls_left = 3 * stream.size() + 16;
  while (true) {
    if (buffer.empty()) {
      if (offset == stream.size()) break;
      size_t left = stream.size() - offset;
      size_t n = chunks == nullptr ? left : std::min(chunks->Next(), left);
      buffer.assign(stream.substr(offset, n));
      offset += n;
    }
    Check(calls_left-- > 0);
    size_t given = buffer.size();
    size_t consumed = given + 1;
    HttpRequestParser::Event event = parser.Feed(buffer, &consumed);
    Check(consumed <= given);
    buffer.erase(0, consumed);
    switch (event) {
      case HttpRequestParser::Event::kNeedMore:
        Check(consumed == given);
        break;
      case HttpRequestParser::Event::kHead: {
        const sluice::HttpHead& head = parser.head();
        Check(parser.HeadComplete() && parser.InRequest());
        Check(!head.method.empty());
        Check(head.target.size() <= kLimits.max_request_line);
        Check(head.headers.size() <= kLimits.max_headers);
        size_t header_bytes = 0;
        for (const auto& [name, value] : head.headers) {
          Check(IsLower(name));
          header_bytes += name.size() + value.size();
        }
        Check(header_bytes <= kLimits.max_header_bytes);
        Check(!(head.chunked && head.content_length));
        trace += "head " + head.method + " " + head.target + " " +
                 std::to_string(head.headers.size()) + "\n";
        if (std::optional<sluice::HttpError> refused = parser.SetBodyLimit(kBodyLimit)) {
          Check(refused->status == 413 && head.content_length && *head.content_length > kBodyLimit);
          return trace + "refused 413\n";
        }
        Check(!head.content_length || *head.content_length <= kBodyLimit);
        break;
      }
      case HttpRequestParser::Event::kRequest: {
        const sluice::HttpHead& head = parser.head();
        Check(parser.HeadComplete());
        Check(parser.body().size() <= kBodyLimit);
        if (head.content_length) Check(parser.body().size() == *head.content_length);
        trace += "body " + std::to_string(parser.body().size()) + " " + parser.body() + "\n";
        if (parser.Upgraded()) return trace + "upgraded\n";  // what follows is not HTTP
        parser.StartNextRequest();
        Check(!parser.InRequest() && !parser.HeadComplete());
        break;
      }
      case HttpRequestParser::Event::kError: {
        int status = parser.error().status;
        Check(status == 400 || status == 408 || status == 413 || status == 414 || status == 417 ||
              status == 431 || status == 501 || status == 505);
        Check(!parser.error().message.empty());
        // A refused stream stays refused: nothing more is taken.
        std::string more = buffer.empty() ? std::string("GET / HTTP/1.1\r\n") : buffer;
        Check(parser.Feed(more, &consumed) == HttpRequestParser::Event::kError && consumed == 0);
        // Which refusal comes first may depend on where the chunks end (http_parser reports a
        // header's bytes at the end of each chunk, and checks its characters before that), so
        // the runs must agree on the requests before it and on there being one, not on its kind.
        return trace + "error\n";
      }
    }
  }
  return trace + (parser.InRequest() ? "incomplete\n" : "end\n");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  Chunks chunks(data[0]);
  std::string whole = Run(stream, nullptr);
  std::string chunked = Run(stream, &chunks);
  if (whole != chunked) {
    std::fprintf(stderr, "fed whole:\n%s\nfed in chunks:\n%s\n", whole.c_str(), chunked.c_str());
    std::abort();
  }
  return 0;
}
