#pragma once

#include <string_view>

#include "gateway/api.h"
#include "gateway/router.h"

namespace sluice {

// The web dashboard's files (gateway/dashboard/, compiled in): GET / is its index.html, GET
// /ui/<path> any of its files. They hold no data: the pages read the API with the token the
// user signs in with, sent in the Authorization header (never a cookie), so no route here
// authenticates. Every answer carries a Content-Security-Policy that allows only this origin's
// scripts, styles and API (no inline script, no eval), and an ETag for revalidation.
void RegisterDashboard(Router& router);

// The answer for the file at `path` relative to gateway/dashboard/: 200 with its bytes (gzipped
// when `accept_encoding` admits gzip and that is smaller), 304 when `if_none_match` names its
// ETag, or 404 in the JSON error format.
ApiReply DashboardFileReply(std::string_view path, std::string_view if_none_match,
                            std::string_view accept_encoding = "");

// The policy sent with every dashboard answer.
extern const char kDashboardContentSecurityPolicy[];

}  // namespace sluice
