// Webhook signature checks of each host (GitHub and Gitea HMACs, GitLab's token and Standard
// Webhooks) over hostile headers and bodies, with secrets of three scopes, one expired, one a
// "whsec_" key. With "sign", the harness also signs the body itself with the first secret that
// applies, and that request must verify. Input (tests/fuzz/fuzz_input.h):
//   <host: github, gitlab or gitea>[ sign]\n<org/repo the secrets are for>\n<headers>\n\n<body>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/crypto.h"
#include "gateway/git_event.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using sluice::TimePoint;

// Standard Webhooks timestamps of the seeds are this instant (Unix seconds 1795000000).
const TimePoint kNow = TimePoint(std::chrono::seconds(1795000000));
constexpr sluice::Duration kTolerance = std::chrono::minutes(5);

const sluice::WebhookHostConfig& Host() {
  static const sluice::WebhookHostConfig* const host = [] {
    auto* h = new sluice::WebhookHostConfig;
    h->secrets["org/repo"] = {{"repo-secret", std::nullopt, "fuzz"},
                              {"old-secret", kNow - std::chrono::hours(1), "fuzz"}};
    h->secrets["org"] = {{"whsec_c2VjcmV0LWtleQ==", std::nullopt, "fuzz"}};
    h->secrets["*"] = {{"any-secret", std::nullopt, "fuzz"}};
    return h;
  }();
  return *host;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string_view first = sluice::fuzz::NextLine(&rest);
  bool sign = first.size() > 5 && first.substr(first.size() - 5) == " sign";
  if (sign) first.remove_suffix(5);
  std::optional<sluice::GitHost> host = sluice::GitHostFromName(first);
  if (!host) return -1;  // not an input of this target: kept out of the corpus
  std::string_view full_name = sluice::fuzz::NextLine(&rest);
  size_t slash = full_name.find('/');
  std::string org(full_name.substr(0, slash));
  std::string repo(slash == std::string_view::npos ? "" : full_name.substr(slash + 1));
  std::vector<const sluice::WebhookSecret*> secrets = sluice::SecretsFor(Host(), org, repo, kNow);
  sluice::HeaderMap headers = sluice::fuzz::NextHeaders(&rest);
  std::string_view body = rest;

  sluice::Status status = sluice::VerifyGitEvent(*host, secrets, headers, body, kNow, kTolerance);
  if (!status.ok() && status.code() != sluice::Code::kUnauthenticated) std::abort();
  if (!sign || secrets.empty()) return 0;

  const std::string& secret = secrets.front()->secret;
  std::string signature_hex = sluice::HexEncode(sluice::HmacSha256Raw(secret, body));
  sluice::HeaderMap signed_headers;
  switch (*host) {
    case sluice::GitHost::kGitHub:
      signed_headers["x-hub-signature-256"] = "sha256=" + signature_hex;
      break;
    case sluice::GitHost::kGitLab:
      signed_headers["x-gitlab-token"] = secret;
      break;
    case sluice::GitHost::kGitea:
      signed_headers["x-gitea-signature"] = signature_hex;
      break;
  }
  if (!sluice::VerifyGitEvent(*host, secrets, signed_headers, body, kNow, kTolerance).ok()) {
    std::abort();
  }
  return 0;
}
