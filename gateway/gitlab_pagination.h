#pragma once

// GitLab's offset pagination, for every list Sluice's GitLab API answers: `page` and `per_page`
// in, and out the headers GitLab sends (X-Total, X-Total-Pages, X-Per-Page, X-Page,
// X-Next-Page, X-Prev-Page, and an RFC 8288 Link with rel first, last, next and prev), which
// clients such as python-gitlab follow to the next page.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/json_codec.h"
#include "gateway/api.h"

namespace sluice {

constexpr int64_t kDefaultPerPage = 20;  // GitLab's
constexpr int64_t kMaxPerPage = 100;     // GitLab's: more is read as 100

struct PageRequest {
  int64_t page = 1;
  int64_t per_page = kDefaultPerPage;
};

// `page` and `per_page` of a query string. A value that is not a number is 400 {"error":
// "page is invalid"}, as GitLab answers; a page below 1 is 1, a per_page below 1 the default,
// one over 100 is 100.
struct PageRequestResult {
  PageRequest page;
  std::optional<ApiReply> error;
};
PageRequestResult ReadPageRequest(const std::map<std::string, std::string>& query);

// The headers of page `page` of `total` items, for the list at `public_url` + `path` asked with
// `query` (its other parameters are kept in the Link URLs; page and per_page are set). An empty
// X-Next-Page or X-Prev-Page means there is none, as GitLab sends them.
std::vector<std::pair<std::string, std::string>> PaginationHeaders(
    const std::string& public_url, const std::string& path,
    const std::map<std::string, std::string>& query, const PageRequest& page, size_t total);

// The items of page `page` among `total`: [first, last).
std::pair<size_t, size_t> PageBounds(const PageRequest& page, size_t total);

// A 200 JSON array of the page `request` asks for among `total` items, with the pagination
// headers; `write_item(w, i)` writes item i (0-based, in list order). 400 for bad page params.
ApiReply PagedJsonList(const ApiRequest& request, const std::string& public_url, size_t total,
                       const std::function<void(JsonWriter&, size_t)>& write_item);

}  // namespace sluice
