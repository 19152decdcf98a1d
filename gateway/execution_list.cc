// GatewayService's execution list: a page of executions newest first, filtered, and the same
// filters followed live (?watch=true, Server-Sent Events) for the dashboard's list.

#include <algorithm>

#include "common/json_codec.h"
#include "gateway/auth.h"
#include "gateway/gateway_service.h"

namespace sluice {

namespace {

constexpr size_t kMaxPageSize = 500;
constexpr size_t kDefaultPageSize = 50;
constexpr int kWatchesFullRetryAfterSeconds = 5;

}  // namespace

ApiReply GatewayService::ListExecutions(const ApiRequest& request) {
  auto client = Authenticated(request);
  if (!client.ok()) return ErrorReply(client.status());
  ListQuery q;
  bool watch = false;
  for (const auto& [key, value] : request.query) {
    if (key == "job_name") {
      q.job_name = value;
    } else if (key == "status") {
      if (!value.empty()) {
        q.status = JobStatusFromName(value);
        if (!q.status) {
          return ErrorReply(InvalidArgument(
              "status: \"" + EchoValue(value) +
              "\" is not one of TRIGGERED, PENDING, SUCCESS, FAILURE, ABORTED, ERROR"));
        }
      }
    } else if (key == "client") {
      q.client = value;
    } else if (key == "source") {
      if (!value.empty() && std::find(std::begin(kExecutionSources), std::end(kExecutionSources),
                                      value) == std::end(kExecutionSources)) {
        return ErrorReply(InvalidArgument("source: \"" + EchoValue(value) +
                                          "\" is not one of api, webhook, pipeline"));
      }
      q.source = value;
    } else if (key == "watch") {
      if (!ParseBoolParam(value, &watch)) {
        return ErrorReply(InvalidArgument("watch: expected true or false"));
      }
    } else if (key == "page_size") {
      size_t n = 0;
      bool digits = !value.empty() && value.size() < 7;
      for (char c : value) digits = digits && c >= '0' && c <= '9';
      if (digits) n = std::stoul(value);
      if (!digits || n < 1 || n > kMaxPageSize) {
        return ErrorReply(InvalidArgument("page_size: must be an integer from 1 to " +
                                          std::to_string(kMaxPageSize)));
      }
      q.page_size = n;
    } else if (key == "page_token") {
      if (!value.empty() && !DecodePageToken(value)) {
        return ErrorReply(InvalidArgument(
            "page_token: not a token this API returned; pass next_page_token unchanged"));
      }
      q.page_token = value;
    } else {
      return ErrorReply(InvalidArgument(
          "unknown query parameter \"" + EchoValue(key) +
          "\"; use job_name, status, client, source, page_size, page_token or watch"));
    }
  }
  if (q.page_size == 0) q.page_size = kDefaultPageSize;
  if (!q.job_name.empty() && !ClientMayUseJob(**client, q.job_name)) {
    return ErrorReply(PermissionDenied("client \"" + (*client)->name + "\" may not see job \"" +
                                       EchoValue(q.job_name) + "\""));
  }
  if (watch) {
    // A watch follows changes of every status and has no pages.
    for (const char* paged : {"status", "page_size", "page_token"}) {
      if (request.query.count(paged)) {
        return ErrorReply(InvalidArgument(std::string(paged) +
                                          ": not taken with watch=true, which follows every "
                                          "change of what job_name, client and source match"));
      }
    }
    return WatchExecutions(**client, std::move(q));
  }
  const ClientConfig* c = *client;
  q.visible = [c](const std::string& job) { return ClientMayUseJob(*c, job); };
  ListPage page = view_.store().List(q);

  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("job_execution");
  w.StartArray();
  for (const Execution& e : page.executions) WriteExecutionApi(w, e, config_.gateway.public_url);
  w.EndArray();
  w.Key("next_page_token");
  w.String(page.next_page_token.c_str());
  w.EndObject();
  return JsonReply(200, buf.GetString());
}

ApiReply GatewayService::WatchExecutions(const ClientConfig& client, ListQuery q) {
  if (feeds_->Full()) return FeedsFull();
  // A watch never ends by itself: their number is bounded in all and per client, so that
  // watchers (one client's among them) cannot hold every connection of the gateway.
  std::shared_ptr<LiveFeeds::WatchPlace> place = feeds_->ReserveWatch(client.name);
  if (!place) {
    return ErrorReply(Unavailable("this gateway serves as many live execution lists as it may, "
                                  "in all or for client \"" +
                                  client.name + "\"; close one (a dashboard tab) or retry shortly")
                          .WithRetryAfter(kWatchesFullRetryAfterSeconds));
  }
  const ClientConfig* c = &client;
  auto matches = [c, q](const Execution& e) {
    if (!q.job_name.empty() && e.job_name != q.job_name) return false;
    if (!q.client.empty() && e.client != q.client) return false;
    if (!q.source.empty() && ExecutionSource(e.id, e.client) != q.source) return false;
    return ClientMayUseJob(*c, e.job_name);
  };
  LiveFeeds* feeds = feeds_.get();
  return ExecutionEventStream(
      [feeds, place, matches](LiveFeeds::Render render, std::shared_ptr<ReplyStream> stream) {
        feeds->Changes(place, matches, std::move(render), std::move(stream));
      });
}

}  // namespace sluice
