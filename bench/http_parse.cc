// CPU per MiB of request head and body: Sluice's HttpRequestParser against Pistache 0.0.5's own
// request parser (the reference, measured in the same run on the same bytes), both fed in the
// 4 KiB reads of Pistache's transport. Prints medians of interleaved rounds (docs/benchmarks.md).
//
//   build/bench/http_parse [rounds]
#include <pistache/http.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/http_request_parser.h"

namespace {

constexpr size_t kRead = 4096;  // Pistache's Const::MaxBuffer: what one recv() hands a parser

std::string HeadWith(size_t header_bytes) {
  return "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(header_bytes, 'a') +
         "\r\n\r\n";
}

std::string PostWith(size_t body_bytes) {
  return "POST /v1/executions HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(body_bytes) + "\r\n\r\n" + std::string(body_bytes, 'a');
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Sluice: a stream of requests, parsed one after another as a kept-alive connection would.
// Returns the seconds taken; `refused` tells whether the parser refused the input (a head over
// its limits is refused as soon as the limit is passed).
double Sluice(const std::vector<std::string>& requests, bool* refused) {
  auto start = std::chrono::steady_clock::now();
  *refused = false;
  for (const std::string& request : requests) {
    sluice::HttpRequestParser parser;
    bool done = false;
    for (size_t pos = 0; pos < request.size() && !done && !*refused; pos += kRead) {
      std::string_view piece = std::string_view(request).substr(pos, kRead);
      size_t off = 0;
      while (true) {
        size_t used = 0;
        auto e = parser.Feed(piece.substr(off), &used);
        off += used;
        if (e == sluice::HttpRequestParser::Event::kHead) {
          parser.SetBodyLimit(1 << 30);
          continue;
        }
        done = e == sluice::HttpRequestParser::Event::kRequest;
        *refused = e == sluice::HttpRequestParser::Event::kError;
        break;
      }
    }
    if (*refused) break;
  }
  return Seconds(start);
}

// Pistache: feed() then parse() on every read, as its Http::Handler does.
double PistacheParse(const std::vector<std::string>& requests) {
  auto start = std::chrono::steady_clock::now();
  for (const std::string& request : requests) {
    Pistache::Http::RequestParser parser(request.size() + 1024);
    for (size_t pos = 0; pos < request.size(); pos += kRead) {
      size_t n = std::min(kRead, request.size() - pos);
      parser.feed(request.data() + pos, n);
      if (parser.parse() == Pistache::Http::Private::State::Done) break;
    }
  }
  return Seconds(start);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 5;
  std::printf("%-22s %8s %14s %16s %10s\n", "input", "MiB", "sluice ms/MiB", "pistache ms/MiB",
              "ratio");
  struct Case {
    const char* name;
    std::vector<std::string> requests;
  };
  std::vector<Case> cases;
  cases.push_back({"16 x 60 KiB headers", std::vector<std::string>(16, HeadWith(60 * 1024))});
  cases.push_back({"one 1 MiB header", {HeadWith(1024 * 1024)}});
  cases.push_back({"one 2 MiB header", {HeadWith(2 * 1024 * 1024)}});
  cases.push_back({"1 MiB body", {PostWith(1024 * 1024)}});
  cases.push_back({"4 MiB body", {PostWith(4 * 1024 * 1024)}});
  for (const Case& c : cases) {
    std::vector<double> ours;
    std::vector<double> theirs;
    bool refused = false;
    for (int r = 0; r < rounds; ++r) {  // interleaved, so that noise hits both alike
      ours.push_back(Sluice(c.requests, &refused));
      theirs.push_back(PistacheParse(c.requests));
    }
    double bytes = 0;
    for (const std::string& request : c.requests) bytes += static_cast<double>(request.size());
    double mib = bytes / (1024.0 * 1024.0);
    double a = Median(ours) * 1000 / mib;
    double b = Median(theirs) * 1000 / mib;
    std::printf("%-22s %8.2f %14.3f %16.3f %9.0fx%s\n", c.name, mib, a, b, b / a,
                refused ? "  (Sluice: refused 431 at 64 KiB; ms per MiB offered)" : "");
  }
  return 0;
}
