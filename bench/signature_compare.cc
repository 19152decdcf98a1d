// Whether checking a webhook's signature or token takes the same time wherever a forgery differs
// from the right value: the property that keeps an attacker from learning a signature byte by byte.
//
// For each case, ROUNDS rounds of CALLS calls each are timed, interleaved so that the machine's
// noise falls on every case alike; the median round is reported, with its ratio to the first
// case of its group. A plain `==` over the same strings is measured alongside as a reference: it
// stops at the first differing byte, so its ratios show what a leak looks like at this
// resolution.
//
//   signature_compare [ROUNDS [CALLS]]     defaults 101 and 2000

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "gateway/git_event.h"

namespace sluice {
namespace {

struct Case {
  const char* group;
  const char* name;
  std::function<bool()> call;
  std::vector<double> ns;  // per call, one value per round
};

std::string Flip(std::string s, size_t at) {
  s[at] = s[at] == '0' ? '1' : '0';
  return s;
}

int Run(int rounds, int calls) {
  const std::string secret = "It's a Secret to Everybody";
  const std::string body(1024, 'b');
  const std::string right = "sha256=" + HexEncode(HmacSha256Raw(secret, body));
  WebhookSecret ws{secret, std::nullopt, "bench"};
  std::vector<const WebhookSecret*> secrets = {&ws};
  TimePoint now{};
  auto github = [&](std::string signature) {
    HeaderMap h = {{"x-hub-signature-256", std::move(signature)}};
    return [h, &secrets, &body, now] {
      return VerifyGitEvent(GitHost::kGitHub, secrets, h, body, now, std::chrono::minutes(5)).ok();
    };
  };
  auto gitlab = [&](std::string token) {
    HeaderMap h = {{"x-gitlab-token", std::move(token)}};
    return [h, &secrets, &body, now] {
      return VerifyGitEvent(GitHost::kGitLab, secrets, h, body, now, std::chrono::minutes(5)).ok();
    };
  };
  const std::string hex = right.substr(7);
  std::vector<Case> cases = {
      {"github X-Hub-Signature-256", "differs at the first hex digit", github(Flip(right, 7)), {}},
      {"github X-Hub-Signature-256",
       "differs at the last hex digit",
       github(Flip(right, right.size() - 1)),
       {}},
      {"github X-Hub-Signature-256", "right", github(right), {}},
      {"gitlab X-Gitlab-Token",
       "differs at the first character",
       gitlab("X" + secret.substr(1)),
       {}},
      {"gitlab X-Gitlab-Token",
       "differs at the last character",
       gitlab(secret.substr(0, secret.size() - 1) + "X"),
       {}},
      {"gitlab X-Gitlab-Token", "one character short", gitlab(secret.substr(1)), {}},
      {"gitlab X-Gitlab-Token", "right", gitlab(secret), {}},
      {"ConstantTimeEquals, 64 hex",
       "differs at the first",
       [&] { return ConstantTimeEquals(hex, Flip(hex, 0)); },
       {}},
      {"ConstantTimeEquals, 64 hex",
       "differs at the last",
       [&] { return ConstantTimeEquals(hex, Flip(hex, 63)); },
       {}},
      {"plain == (reference), 4 KiB",
       "differs at the first",
       [] {
         static const std::string a(4096, 'a'), b = Flip(a, 0);
         return a == b;
       },
       {}},
      {"plain == (reference), 4 KiB",
       "differs at the last",
       [] {
         static const std::string a(4096, 'a'), b = Flip(a, 4095);
         return a == b;
       },
       {}},
  };
  volatile bool sink = false;
  for (int r = 0; r < rounds; ++r) {
    for (Case& c : cases) {
      auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < calls; ++i) sink = sink ^ c.call();
      auto end = std::chrono::steady_clock::now();
      c.ns.push_back(std::chrono::duration<double, std::nano>(end - start).count() / calls);
    }
  }
  std::printf("%d rounds of %d calls; median ns per call; ratio to the first row of its group\n",
              rounds, calls);
  const char* group = "";
  double base = 0;
  for (Case& c : cases) {
    std::sort(c.ns.begin(), c.ns.end());
    double median = c.ns[c.ns.size() / 2];
    if (std::string(group) != c.group) {
      group = c.group;
      base = median;
      std::printf("\n%s\n", group);
    }
    std::printf("  %-34s %10.1f ns   x%.3f\n", c.name, median, median / base);
  }
  return sink ? 0 : 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 101;
  int calls = argc > 2 ? std::atoi(argv[2]) : 2000;
  return sluice::Run(rounds, calls);
}
