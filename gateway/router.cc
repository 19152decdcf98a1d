#include "gateway/router.h"

#include "common/status.h"
#include "gateway/gitlab_replies.h"

namespace sluice {

namespace {

bool IsParam(const std::string& segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

bool IsRest(const std::string& segment) {
  return IsParam(segment) && segment.size() >= 3 && segment[segment.size() - 2] == '+';
}

std::string ParamName(const std::string& segment) {
  return segment.substr(1, segment.size() - (IsRest(segment) ? 3 : 2));
}

// Whether `parts` match `pattern`; fills `params` and counts the literal segments matched.
bool MatchSegments(const std::vector<std::string>& pattern, const std::vector<std::string>& parts,
                   PathParams* params, int* literals) {
  size_t rest = pattern.size();
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (IsRest(pattern[i])) rest = i;
  }
  if (rest == pattern.size()) {
    if (parts.size() != pattern.size()) return false;
  } else if (parts.size() < pattern.size()) {
    return false;
  }
  size_t extra = parts.size() - pattern.size();  // segments the rest parameter takes beyond one
  *literals = 0;
  for (size_t i = 0, p = 0; i < pattern.size(); ++i) {
    const std::string& want = pattern[i];
    if (i == rest) {
      std::string joined;
      for (size_t k = 0; k <= extra; ++k) joined += (k ? "/" : "") + parts[p + k];
      (*params)[ParamName(want)] = std::move(joined);
      p += extra + 1;
      continue;
    }
    if (IsParam(want)) {
      (*params)[ParamName(want)] = parts[p];
    } else if (want != parts[p]) {
      return false;
    } else {
      ++*literals;
    }
    ++p;
  }
  return true;
}

}  // namespace

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

void Router::Add(std::string method, std::string pattern, ApiFamily family, RouteHandler handler) {
  segments_.push_back(SplitPath(pattern));
  routes_.push_back({std::move(method), std::move(pattern), family, std::move(handler)});
}

void Router::SetFamily(std::string prefix, ApiFamily family) {
  families_.emplace_back(std::move(prefix), family);
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  std::vector<std::string> parts = SplitPath(path);
  Match best;
  int best_literals = -1;
  for (size_t i = 0; i < routes_.size(); ++i) {
    PathParams params;
    int literals = 0;
    if (!MatchSegments(segments_[i], parts, &params, &literals)) continue;
    const Route& r = routes_[i];
    if (best.allow.find(r.method) == std::string::npos) {
      best.allow += (best.allow.empty() ? "" : ", ") + r.method;
    }
    bool method_ok = r.method == method || (method == "HEAD" && r.method == "GET");
    if (method_ok && literals > best_literals) {
      best.route = &r;
      best.params = std::move(params);
      best_literals = literals;
    }
  }
  return best;
}

std::string_view Router::Template(std::string_view method, std::string_view path) const {
  Match m = Find(method, path);
  return m.route ? std::string_view(m.route->pattern) : std::string_view("unmatched");
}

ApiFamily Router::FamilyOf(std::string_view path) const {
  ApiFamily family = ApiFamily::kV1;
  size_t longest = 0;
  for (const auto& [prefix, f] : families_) {
    if (path.starts_with(prefix) && prefix.size() >= longest) {
      family = f;
      longest = prefix.size();
    }
  }
  return family;
}

void Router::Dispatch(ApiRequest request, ReplyFn reply) const {
  Match m = Find(request.method, request.path);
  if (!m.route) {
    ApiFamily family = FamilyOf(request.path);
    if (m.allow.empty()) return reply(NoSuchEndpoint(family, request));
    return reply(MethodNotAllowed(family, request, m.allow));
  }
  request.route = m.route->pattern;
  m.route->handler(request, m.params, std::move(reply));
}

ApiReply NoSuchEndpoint(ApiFamily family, const ApiRequest& request) {
  std::string what = EchoValue(request.method) + " " + EchoValue(request.path);
  switch (family) {
    case ApiFamily::kGitLab:
      return GitLabMessage(404, "404 Not Found");
    case ApiFamily::kHooks:
      return ErrorReply(
          NotFound("no such endpoint: " + what +
                   "; webhooks are received at /hooks/{github|gitlab|gitea} and "
                   "deliveries are at /v1/events/{github|gitlab|gitea}/{delivery id}"));
    case ApiFamily::kV1:
    case ApiFamily::kOps:
      break;
  }
  return ErrorReply(NotFound("no such endpoint: " + what + " (see the README for the API)"));
}

ApiReply MethodNotAllowed(ApiFamily family, const ApiRequest& request, const std::string& allow) {
  ApiReply r;
  if (family == ApiFamily::kGitLab) {
    r = GitLabMessage(405, "405 Method Not Allowed");
  } else {
    r = ErrorReply(Status(Code::kUnimplemented, "method " + EchoValue(request.method) +
                                                    " is not allowed on " +
                                                    EchoValue(request.path) + "; allowed: " + allow)
                       .WithHttpStatus(405));
  }
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace sluice
