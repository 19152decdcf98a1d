#include "gateway/dashboard.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "gateway/dashboard_files.h"

namespace sluice {

const char kDashboardContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'";

namespace {

struct ContentType {
  std::string_view extension;
  const char* type;
};

constexpr ContentType kContentTypes[] = {
    {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
    {".json", "application/json"},         {".png", "image/png"},
    {".txt", "text/plain; charset=utf-8"},
};

const char* ContentTypeOf(std::string_view path) {
  for (const ContentType& t : kContentTypes) {
    if (path.ends_with(t.extension)) return t.type;
  }
  return "application/octet-stream";
}

const DashboardFile* FindFile(std::string_view path) {
  const DashboardFile* begin = kDashboardFiles;
  const DashboardFile* end = kDashboardFiles + kDashboardFileCount;
  auto it = std::lower_bound(begin, end, path, [](const DashboardFile& f, std::string_view p) {
    return std::string_view(f.path) < p;
  });
  return it != end && std::string_view(it->path) == path ? it : nullptr;
}

// The ETag of a file: the first 128 bits of its SHA-256, quoted.
std::string ETagOf(const DashboardFile& f) {
  return "\"" + std::string(f.sha256, std::min<size_t>(32, std::strlen(f.sha256))) + "\"";
}

bool NamesETag(std::string_view header, std::string_view etag) {
  if (header == "*") return true;
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view one = header.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (one.starts_with("W/")) one.remove_prefix(2);
    if (one == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

void AddDashboardHeaders(ApiReply& r) {
  r.headers.emplace_back("Content-Security-Policy", kDashboardContentSecurityPolicy);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  // Revalidated on every load (a 304 costs one round trip on loopback or a LAN), so an upgraded
  // gateway's pages never mix with a cached older module.
  r.headers.emplace_back("Cache-Control", "no-cache");
}

}  // namespace

ApiReply DashboardFileReply(std::string_view path, std::string_view if_none_match) {
  const DashboardFile* file = FindFile(path);
  if (file == nullptr) {
    ApiReply r = ErrorReply(NotFound("no such dashboard file: \"" + EchoValue(path) + "\""));
    AddDashboardHeaders(r);
    return r;
  }
  ApiReply r;
  std::string etag = ETagOf(*file);
  AddDashboardHeaders(r);
  r.headers.emplace_back("ETag", etag);
  if (!if_none_match.empty() && NamesETag(if_none_match, etag)) {
    r.status = 304;
    return r;
  }
  r.content_type = ContentTypeOf(path);
  r.body.assign(file->bytes, file->size);
  return r;
}

void RegisterDashboard(Router& router) {
  auto if_none_match = [](const ApiRequest& request) -> std::string_view {
    auto it = request.headers.find("if-none-match");
    return it == request.headers.end() ? std::string_view() : std::string_view(it->second);
  };
  router.Add("GET", "/", ApiFamily::kOps,
             [if_none_match](const ApiRequest& request, const PathParams&, ReplyFn reply) {
               reply(DashboardFileReply("index.html", if_none_match(request)));
             });
  // Paths arrive still percent-encoded; the dashboard's file names need no encoding, so an
  // encoded one simply names no file.
  router.Add("GET", "/ui/{path+}", ApiFamily::kOps,
             [if_none_match](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
               reply(DashboardFileReply(p.at("path"), if_none_match(request)));
             });
}

}  // namespace sluice
