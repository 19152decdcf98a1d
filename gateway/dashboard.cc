#include "gateway/dashboard.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

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

// The ETag of a file: the first 128 bits of its SHA-256, quoted; its gzip form's ends in -gz
// (another representation, another tag).
std::string ETagOf(const DashboardFile& f, bool gzipped) {
  return "\"" + std::string(f.sha256, std::min<size_t>(32, std::strlen(f.sha256))) +
         (gzipped ? "-gz\"" : "\"");
}

std::string Gzip(std::string_view bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return "";
  }
  std::string out(deflateBound(&z, bytes.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  bool done = deflate(&z, Z_FINISH) == Z_STREAM_END;
  out.resize(z.total_out);
  deflateEnd(&z);
  return done ? out : "";
}

// Every file's gzip form, made once (the first call is at registration, at start-up); empty
// where gzip would not be smaller.
const std::vector<std::string>& GzippedFiles() {
  static const std::vector<std::string> gzipped = [] {
    std::vector<std::string> out;
    for (size_t i = 0; i < kDashboardFileCount; ++i) {
      const DashboardFile& f = kDashboardFiles[i];
      std::string gz = Gzip(std::string_view(f.bytes, f.size));
      out.push_back(!gz.empty() && gz.size() < f.size ? std::move(gz) : std::string());
    }
    return out;
  }();
  return gzipped;
}

// Whether Accept-Encoding admits gzip: "gzip", "x-gzip" or "*", with no q=0.
bool AcceptsGzip(std::string_view header) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view one = header.substr(0, comma);
    size_t semi = one.find(';');
    std::string_view coding = one.substr(0, semi);
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding == "gzip" || coding == "x-gzip" || coding == "*") {
      std::string_view params = semi == std::string_view::npos ? "" : one.substr(semi + 1);
      size_t q = params.find("q=");
      if (q == std::string_view::npos) return true;
      std::string_view value = params.substr(q + 2);
      return !(value.starts_with("0") &&
               value.find_first_of("123456789") == std::string_view::npos);
    }
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
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
  r.headers.emplace_back("Vary", "Accept-Encoding");
  // Revalidated on every load (a 304 costs one round trip on loopback or a LAN), so an upgraded
  // gateway's pages never mix with a cached older module.
  r.headers.emplace_back("Cache-Control", "no-cache");
}

}  // namespace

ApiReply DashboardFileReply(std::string_view path, std::string_view if_none_match,
                            std::string_view accept_encoding) {
  const DashboardFile* file = FindFile(path);
  if (file == nullptr) {
    ApiReply r = ErrorReply(NotFound("no such dashboard file: \"" + EchoValue(path) + "\""));
    AddDashboardHeaders(r);
    return r;
  }
  const std::string& gzipped = GzippedFiles()[static_cast<size_t>(file - kDashboardFiles)];
  bool gzip = !gzipped.empty() && AcceptsGzip(accept_encoding);
  ApiReply r;
  std::string etag = ETagOf(*file, gzip);
  AddDashboardHeaders(r);
  r.headers.emplace_back("ETag", etag);
  r.content_type = ContentTypeOf(path);
  if (!if_none_match.empty() && NamesETag(if_none_match, etag)) {
    r.status = 304;
    return r;
  }
  if (gzip) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body = gzipped;
  } else {
    r.body.assign(file->bytes, file->size);
  }
  return r;
}

void RegisterDashboard(Router& router) {
  GzippedFiles();  // compressed here, at start-up, not on a network thread
  auto serve = [](const ApiRequest& request, std::string_view path) {
    auto header = [&request](const char* name) -> std::string_view {
      auto it = request.headers.find(name);
      return it == request.headers.end() ? std::string_view() : std::string_view(it->second);
    };
    return DashboardFileReply(path, header("if-none-match"), header("accept-encoding"));
  };
  router.Add("GET", "/", ApiFamily::kOps,
             [serve](const ApiRequest& request, const PathParams&, ReplyFn reply) {
               reply(serve(request, "index.html"));
             });
  // Paths arrive still percent-encoded; the dashboard's file names need no encoding, so an
  // encoded one simply names no file.
  router.Add("GET", "/ui/{path+}", ApiFamily::kOps,
             [serve](const ApiRequest& request, const PathParams& p, ReplyFn reply) {
               reply(serve(request, p.at("path")));
             });
}

}  // namespace sluice
