#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/execution.h"
#include "common/execution_store.h"
#include "gateway/api.h"

namespace sluice {

using MonoTime = std::chrono::steady_clock::time_point;

// The answers that follow an execution as it changes: a long poll (GET .../{id}?wait=), its status
// changes as Server-Sent Events (GET .../{id}/events) and its log as it grows
// (GET .../{id}/log?follow=true). One thread of their own serves them all, woken by the status
// view when an execution it follows changes, and every `log_poll` for growing logs: no network
// thread waits, and a slow reader holds back only its own feed (ReplyStream::Backlog).
class LiveFeeds {
  struct Shared;  // what the status view's listener reaches: outlives this object if need be

 public:
  struct Settings {
    // Long polls and streams together; more are answered 503. Below gateway.max_connections
    // (1024 by default): feeds that held every connection would leave none for other requests,
    // and the gateway would refuse connections rather than answer this 503.
    size_t max_feeds = 768;
    // Change feeds (?watch=true) never end by themselves: at most this many in all, so that they
    // cannot hold every connection of the gateway (gateway.max_connections, 1024 by default)...
    size_t max_watches = 512;
    // ...and at most this many per client, so that one client cannot hold them all.
    size_t max_watches_per_client = 64;
    Duration log_poll = std::chrono::milliseconds(100);
    Duration keep_alive = std::chrono::seconds(15);  // an SSE comment when nothing else was sent
    size_t max_backlog = 256 * 1024;                 // per stream, not yet taken by the socket
    size_t read_chunk = 64 * 1024;

    // The bounds for a gateway that holds at most `max_connections` connections: feeds three
    // quarters of them, watches half, a client's watches 64 at most (and fewer on a small
    // gateway), so that a quarter is always left for ordinary requests.
    static Settings ForConnections(size_t max_connections);
  };
  // Renders an execution (or its absence) as the answer to a long poll.
  using Answer = std::function<ApiReply(const std::optional<Execution>&)>;
  // Renders an execution as the data of one SSE event.
  using Render = std::function<std::string(const Execution&)>;

  LiveFeeds(ExecutionStore& store, Settings settings);
  ~LiveFeeds();
  LiveFeeds(const LiveFeeds&) = delete;
  LiveFeeds& operator=(const LiveFeeds&) = delete;

  // Whether another feed is refused now (the caller answers 503 with Retry-After).
  bool Full() const;

  // A place among the change feeds, taken when a watch is admitted and held until its feed ends:
  // a watch admitted while an earlier one's stream has not started yet must count that one.
  // Given back when dropped without having become a feed (the connection went first).
  class WatchPlace {
   public:
    ~WatchPlace();
    WatchPlace(const WatchPlace&) = delete;
    WatchPlace& operator=(const WatchPlace&) = delete;

   private:
    friend class LiveFeeds;
    WatchPlace(std::weak_ptr<Shared> shared, std::string client)
        : shared_(std::move(shared)), client_(std::move(client)) {}
    std::weak_ptr<Shared> shared_;
    std::string client_;
    bool taken_ = false;
  };
  // A place for a watch of `client`, or null when all feeds, all change feeds or the
  // client's own are at their bound (checked and taken at once).
  std::shared_ptr<WatchPlace> ReserveWatch(const std::string& client);

  // Answers `reply` with `answer(execution)` once the execution's status is not `known`, or at
  // `deadline` with what it is then.
  void Wait(const std::string& id, JobStatus known, MonoTime deadline, Answer answer,
            ReplyFn reply);
  // Writes an event per status change (the current status first) and ends after a terminal one.
  void Events(const std::string& id, Render render, std::shared_ptr<ReplyStream> stream);
  // Writes an event for every change of an execution that `matches` (the execution list's live
  // updates: the caller's visibility and filters), the changes of one turn coalesced to the
  // latest state per execution. Never ends by itself; a reader that lets more than
  // `max_backlog` bytes pile up is ended, and reloads the list before watching again. Counted
  // against `client`'s change feeds until it ends.
  void Changes(const std::shared_ptr<WatchPlace>& place,
               std::function<bool(const Execution&)> matches, Render render,
               std::shared_ptr<ReplyStream> stream);
  // Writes the file at `path` from byte `offset` as it grows; ends once the execution has ended
  // and nothing more was written to it.
  void FollowLog(const std::string& id, std::string path, uint64_t offset,
                 std::shared_ptr<ReplyStream> stream);

  size_t size() const;

 private:
  struct Waiter;
  struct EventFeed;
  struct LogFeed;
  struct ChangeFeed;

  void Run();
  void Unwatch(const std::string& id);
  // Each returns whether the feed is done.
  bool Serve(Waiter& w, MonoTime now, bool changed);
  bool Serve(EventFeed& f, MonoTime now, bool changed);
  bool Serve(LogFeed& f, MonoTime now);
  bool Serve(ChangeFeed& f, MonoTime now, const std::vector<Execution>& changed);

  ExecutionStore& store_;
  Settings settings_;
  std::shared_ptr<Shared> shared_;
  // Owned by the feeds' thread once taken from shared_->incoming.
  std::vector<std::unique_ptr<Waiter>> waiters_;
  std::vector<std::unique_ptr<EventFeed>> events_;
  std::vector<std::unique_ptr<LogFeed>> logs_;
  std::vector<std::unique_ptr<ChangeFeed>> changes_;
  std::thread thread_;
};

}  // namespace sluice
