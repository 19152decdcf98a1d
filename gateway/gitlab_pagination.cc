#include "gateway/gitlab_pagination.h"

#include <algorithm>
#include <charconv>

#include "common/url.h"
#include "gateway/gitlab_replies.h"

namespace sluice {

namespace {

// A decimal integer, optionally signed; nullopt for anything else (or beyond 18 digits).
std::optional<int64_t> ReadInteger(const std::string& text) {
  std::string_view digits = text;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return text[0] == '-' ? -value : value;
}

int64_t TotalPages(const PageRequest& page, size_t total) {
  return (static_cast<int64_t>(total) + page.per_page - 1) / page.per_page;
}

std::string PageUrl(const std::string& base, const std::map<std::string, std::string>& query,
                    const PageRequest& page, int64_t number) {
  std::map<std::string, std::string> q = query;
  q["page"] = std::to_string(number);
  q["per_page"] = std::to_string(page.per_page);
  std::string url = base;
  char sep = '?';
  for (const auto& [k, v] : q) {
    url += sep + PercentEncode(k) + "=" + PercentEncode(v);
    sep = '&';
  }
  return url;
}

}  // namespace

PageRequestResult ReadPageRequest(const std::map<std::string, std::string>& query) {
  PageRequestResult out;
  for (const char* key : {"page", "per_page"}) {
    auto it = query.find(key);
    if (it == query.end() || it->second.empty()) continue;
    auto value = ReadInteger(it->second);
    if (!value) {
      out.error = GitLabParamError(std::string(key) + " is invalid");
      return out;
    }
    if (std::string_view(key) == "page") {
      out.page.page = std::max<int64_t>(1, *value);
    } else {
      out.page.per_page = *value < 1 ? kDefaultPerPage : std::min(*value, kMaxPerPage);
    }
  }
  return out;
}

std::pair<size_t, size_t> PageBounds(const PageRequest& page, size_t total) {
  // Pages far past the end are empty; the product cannot overflow (page < 10^18 / per_page).
  int64_t first = page.page - 1;
  if (first >= static_cast<int64_t>(total) / page.per_page + 1) return {total, total};
  size_t begin = std::min(total, static_cast<size_t>(first * page.per_page));
  size_t end = std::min(total, begin + static_cast<size_t>(page.per_page));
  return {begin, end};
}

std::vector<std::pair<std::string, std::string>> PaginationHeaders(
    const std::string& public_url, const std::string& path,
    const std::map<std::string, std::string>& query, const PageRequest& page, size_t total) {
  std::string base = public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  base += path;
  int64_t pages = TotalPages(page, total);
  int64_t last = std::max<int64_t>(pages, 1);
  bool has_next = page.page < pages;
  // As Kaminari, which GitLab paginates with: a page past the last has neither.
  bool has_prev = page.page > 1 && page.page <= last;
  int64_t prev = page.page - 1;
  std::string link;
  auto add_link = [&](int64_t number, const char* rel) {
    if (!link.empty()) link += ", ";
    link += "<" + PageUrl(base, query, page, number) + ">; rel=\"" + rel + "\"";
  };
  if (has_prev) add_link(prev, "prev");
  if (has_next) add_link(page.page + 1, "next");
  add_link(1, "first");
  add_link(last, "last");
  return {
      {"X-Total", std::to_string(total)},
      {"X-Total-Pages", std::to_string(pages)},
      {"X-Per-Page", std::to_string(page.per_page)},
      {"X-Page", std::to_string(page.page)},
      {"X-Next-Page", has_next ? std::to_string(page.page + 1) : ""},
      {"X-Prev-Page", has_prev ? std::to_string(prev) : ""},
      {"Link", link},
  };
}

ApiReply PagedJsonList(const ApiRequest& request, const std::string& public_url, size_t total,
                       const std::function<void(JsonWriter&, size_t)>& write_item) {
  PageRequestResult read = ReadPageRequest(request.query);
  if (read.error) return *read.error;
  auto [begin, end] = PageBounds(read.page, total);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartArray();
  for (size_t i = begin; i < end; ++i) write_item(w, i);
  w.EndArray();
  ApiReply reply = JsonReply(200, buf.GetString());
  reply.headers = PaginationHeaders(public_url, request.path, request.query, read.page, total);
  return reply;
}

}  // namespace sluice
