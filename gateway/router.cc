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

// Whether `parts` have the shape of `pattern` (its literal segments, its count of segments);
// no parameter is copied: Find fills them for the winning route only.
bool Matches(const std::vector<std::string>& pattern, size_t rest,
             const std::vector<std::string_view>& parts) {
  if (rest == pattern.size() ? parts.size() != pattern.size() : parts.size() < pattern.size()) {
    return false;
  }
  size_t extra = parts.size() - pattern.size();  // segments the rest parameter takes beyond one
  for (size_t i = 0, p = 0; i < pattern.size(); ++i) {
    if (i == rest) {
      p += extra + 1;
      continue;
    }
    if (!IsParam(pattern[i]) && pattern[i] != parts[p]) return false;
    ++p;
  }
  return true;
}

// The parameters of `parts`, which Matches `pattern`.
PathParams ParamsOf(const std::vector<std::string>& pattern, size_t rest,
                    const std::vector<std::string_view>& parts) {
  PathParams params;
  size_t extra = parts.size() - pattern.size();
  for (size_t i = 0, p = 0; i < pattern.size(); ++i) {
    const std::string& want = pattern[i];
    if (i == rest) {
      std::string joined;
      for (size_t k = 0; k <= extra; ++k) {
        if (k) joined += '/';
        joined += parts[p + k];
      }
      params[ParamName(want)] = std::move(joined);
      p += extra + 1;
      continue;
    }
    if (IsParam(want)) params[ParamName(want)] = std::string(parts[p]);
    ++p;
  }
  return params;
}

// "/a//b/" → {"a", "b"}, as views into `path`.
std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> parts;
  parts.reserve(8);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  for (std::string_view part : PathSegments(path)) parts.emplace_back(part);
  return parts;
}

void Router::Add(std::string method, std::string pattern, ApiFamily family, RouteHandler handler) {
  Shape shape{SplitPath(pattern), 0, 0};
  shape.rest = shape.segments.size();
  for (size_t i = 0; i < shape.segments.size(); ++i) {
    if (IsRest(shape.segments[i])) shape.rest = i;
    if (!IsParam(shape.segments[i])) ++shape.literals;
  }
  shapes_.push_back(std::move(shape));
  routes_.push_back({std::move(method), std::move(pattern), family, std::move(handler)});
}

void Router::SetFamily(std::string prefix, ApiFamily family) {
  families_.emplace_back(std::move(prefix), family);
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  std::vector<std::string_view> parts = PathSegments(path);
  Match best;
  const Shape* best_shape = nullptr;
  for (size_t i = 0; i < routes_.size(); ++i) {
    const Shape& shape = shapes_[i];
    if (!Matches(shape.segments, shape.rest, parts)) continue;
    const Route& r = routes_[i];
    if (best.allow.find(r.method) == std::string::npos) {
      if (!best.allow.empty()) best.allow += ", ";
      best.allow += r.method;
    }
    bool method_ok = r.method == method || (method == "HEAD" && r.method == "GET");
    // A matching pattern matched every one of its literal segments.
    if (method_ok && (best_shape == nullptr || shape.literals > best_shape->literals)) {
      best.route = &r;
      best_shape = &shape;
    }
  }
  if (best_shape != nullptr) best.params = ParamsOf(best_shape->segments, best_shape->rest, parts);
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
