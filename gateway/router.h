#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/api.h"

namespace sluice {

// A route's path parameters by name, as sent (still percent-encoded): the handler decodes what
// it needs, so that an encoded '/' inside a segment stays inside it.
using PathParams = std::map<std::string, std::string, std::less<>>;
using RouteHandler = std::function<void(const ApiRequest&, const PathParams&, ReplyFn)>;

// Which API a path belongs to: it picks the body of the 404 and 405 answers (Sluice's JSON error
// for /v1, hooks and operations; GitLab's {"message"} under /api/v4).
enum class ApiFamily { kV1, kGitLab, kHooks, kOps };

struct Route {
  std::string method;   // "GET", "POST", "PUT", "DELETE"; a GET route answers HEAD too
  std::string pattern;  // "/v1/executions/{id}"; "{name+}" takes one or more segments
  ApiFamily family;
  RouteHandler handler;
};

// The gateway's one route table: every API registers its routes here, so the router, the
// OpenAPI description (schemas/openapi.yaml, checked against routes() by a unit test) and the
// metrics' route labels cannot drift apart.
//
// Matching is by segments of the path (empty segments are ignored, as "//" and a trailing "/"
// are). A path that matches no pattern gets its family's 404; one that matches only with
// another method gets 405 with Allow. When two patterns match, the one with more literal
// segments wins ("/v1/executions/{id}/abort" over "/v1/executions/{job}").
class Router {
 public:
  void Add(std::string method, std::string pattern, ApiFamily family, RouteHandler handler);
  // The family of paths under `prefix` that match no route ("/api/v4/" → kGitLab).
  void SetFamily(std::string prefix, ApiFamily family);

  const std::vector<Route>& routes() const { return routes_; }

  // Sets request.route to the matched pattern and calls its handler, or answers 404/405.
  void Dispatch(ApiRequest request, ReplyFn reply) const;

  struct Match {
    const Route* route = nullptr;  // null: no route for this method
    PathParams params;
    std::string allow;  // the methods the path has, "GET, POST"; empty when none
  };
  Match Find(std::string_view method, std::string_view path) const;

  // The matched route's pattern, or "unmatched": a bounded label for metrics.
  std::string_view Template(std::string_view method, std::string_view path) const;

 private:
  ApiFamily FamilyOf(std::string_view path) const;

  std::vector<Route> routes_;
  // Each route's pattern, split once: its segments, the index of its "{name+}" segment (the
  // count of segments when it has none) and its count of literal segments.
  struct Shape {
    std::vector<std::string> segments;
    size_t rest;
    int literals;
  };
  std::vector<Shape> shapes_;
  std::vector<std::pair<std::string, ApiFamily>> families_;
};

// The answers of a path no route serves, in each family's format.
ApiReply NoSuchEndpoint(ApiFamily family, const ApiRequest& request);
ApiReply MethodNotAllowed(ApiFamily family, const ApiRequest& request, const std::string& allow);

// "/a//b/" → {"a", "b"}.
std::vector<std::string> SplitPath(std::string_view path);

}  // namespace sluice
