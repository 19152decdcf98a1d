#include "gateway/auth.h"

#include <string>
#include <vector>

#include "common/crypto.h"

namespace sluice {
namespace {

constexpr std::string_view kWhitespace = " \t";

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(kWhitespace);
  return s.substr(begin, end - begin + 1);
}

bool EqualsIgnoringAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

StatusOr<const ClientConfig*> Authenticate(const Config& config,
                                           std::string_view authorization_header) {
  std::string_view header = Trim(authorization_header);
  if (header.empty()) {
    return Unauthenticated("missing Authorization header; send Authorization: Bearer <token>");
  }
  size_t space = header.find_first_of(kWhitespace);
  std::string_view scheme = header.substr(0, space);
  std::string_view token =
      space == std::string_view::npos ? std::string_view() : Trim(header.substr(space));
  if (!EqualsIgnoringAsciiCase(scheme, "Bearer") || token.empty() ||
      token.find_first_of(kWhitespace) != std::string_view::npos) {
    return Unauthenticated("malformed Authorization header; send Authorization: Bearer <token>");
  }
  const std::string token_hash = Sha256Hex(token);
  const ClientConfig* found = nullptr;
  for (const ClientConfig& client : config.clients) {
    // Every client is compared, even after a match, so timing does not reveal which one matched.
    // Both are 64 hexadecimal digits (config_clients.cc), so a plain constant-time compare of
    // the digests reveals nothing a second hashing would hide.
    bool equal = DigestsEqual(token_hash, client.token_sha256);
    if (equal && found == nullptr) found = &client;
  }
  if (found == nullptr) return Unauthenticated("invalid bearer token");
  return found;
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Greedy match with backtracking to the last '*': O(pattern * text) at worst, no recursion.
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;  // position of the last '*' seen in pattern
  size_t star_text = 0;                  // where in text that '*' currently stops
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++star_text;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ClientMayUseJob(const ClientConfig& client, std::string_view job_name) {
  for (const std::string& pattern : client.allow_jobs) {
    if (GlobMatch(pattern, job_name)) return true;
  }
  return false;
}

StatusOr<const JobConfig*> AuthorizeJob(const Config& config, const ClientConfig& client,
                                        std::string_view job_name) {
  if (!ClientMayUseJob(client, job_name)) {
    return PermissionDenied("client \"" + client.name + "\" may not trigger job \"" +
                            EchoValue(job_name) + "\"; it is not in the client's allow_jobs");
  }
  const JobConfig* job = config.FindJob(std::string(job_name));
  if (job == nullptr) return NotFound("no job named \"" + EchoValue(job_name) + "\"");
  return job;
}

}  // namespace sluice
