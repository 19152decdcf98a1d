#include "gateway/live_feeds.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>

namespace sluice {

namespace {

MonoTime SteadyNow() { return std::chrono::steady_clock::now(); }

}  // namespace

struct LiveFeeds::Waiter {
  std::string id;
  JobStatus known;
  MonoTime deadline;
  Answer answer;
  ReplyFn reply;
};

struct LiveFeeds::EventFeed {
  std::string id;
  Render render;
  std::shared_ptr<ReplyStream> stream;
  std::optional<JobStatus> sent;
  MonoTime last_write;
};

struct LiveFeeds::LogFeed {
  std::string id;
  std::string path;
  uint64_t offset = 0;
  std::shared_ptr<ReplyStream> stream;
  int fd = -1;
  int quiet_reads_after_end = 0;  // reads that found nothing new since the execution ended
  ~LogFeed() {
    if (fd >= 0) close(fd);
  }
};

struct LiveFeeds::ChangeFeed {
  std::string client;
  std::function<bool(const Execution&)> matches;
  Render render;
  std::shared_ptr<ReplyStream> stream;
  MonoTime last_write;
};

// Shared with the status view's listener, which may outlive this object.
struct LiveFeeds::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::multiset<std::string> watched;  // ids with a waiter or an event feed
  std::set<std::string> changed;       // watched ids changed since the thread last looked
  size_t change_feeds = 0;             // feeds that follow every execution
  std::map<std::string, size_t> change_feeds_of;  // the same, by client (none at zero)
  bool sweep = false;  // a watch was refused: look now for feeds whose readers went away
  std::set<std::string> changed_any;  // while there are some: every id changed since then
  std::vector<std::unique_ptr<Waiter>> new_waiters;
  std::vector<std::unique_ptr<EventFeed>> new_events;
  std::vector<std::unique_ptr<LogFeed>> new_logs;
  std::vector<std::unique_ptr<ChangeFeed>> new_changes;
  std::atomic<size_t> feeds{0};
};

LiveFeeds::Settings LiveFeeds::Settings::ForConnections(size_t max_connections) {
  Settings s;
  s.max_feeds = std::max<size_t>(1, max_connections * 3 / 4);
  s.max_watches = std::max<size_t>(1, max_connections / 2);
  s.max_watches_per_client = std::max<size_t>(1, std::min<size_t>(64, s.max_watches / 8));
  return s;
}

LiveFeeds::LiveFeeds(ExecutionStore& store, Settings settings)
    : store_(store), settings_(settings), shared_(std::make_shared<Shared>()) {
  std::weak_ptr<Shared> weak = shared_;
  store_.OnChangedId([weak](const std::string& id) {
    std::shared_ptr<Shared> shared = weak.lock();
    if (!shared) return;
    std::lock_guard<std::mutex> lock(shared->mutex);
    bool any = shared->change_feeds > 0;
    if (any) shared->changed_any.insert(id);
    bool watched = shared->watched.count(id) > 0;
    if (watched) shared->changed.insert(id);
    if (any || watched) shared->wake.notify_one();
  });
  thread_ = std::thread([this] { Run(); });
}

LiveFeeds::~LiveFeeds() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
  }
  shared_->wake.notify_one();
  thread_.join();
  for (auto& f : events_) f->stream->End();
  for (auto& f : logs_) f->stream->End();
  for (auto& f : changes_) f->stream->End();
  // Long polls still waiting get no answer here: their connections are gone with the server.
}

bool LiveFeeds::Full() const { return shared_->feeds.load() >= settings_.max_feeds; }

std::shared_ptr<LiveFeeds::WatchPlace> LiveFeeds::ReserveWatch(const std::string& client) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  size_t& of_client = shared_->change_feeds_of[client];
  if (shared_->feeds.load() >= settings_.max_feeds ||
      shared_->change_feeds >= settings_.max_watches ||
      of_client >= settings_.max_watches_per_client) {
    if (of_client == 0) shared_->change_feeds_of.erase(client);
    // Feeds whose readers left are otherwise let go at the next change or keep-alive (up to 15 s
    // away): the refused client's retry finds their places free.
    shared_->sweep = true;
    shared_->wake.notify_one();
    return nullptr;
  }
  shared_->feeds++;
  shared_->change_feeds++;
  of_client++;
  return std::shared_ptr<WatchPlace>(new WatchPlace(shared_, client));
}

LiveFeeds::WatchPlace::~WatchPlace() {
  if (taken_) return;  // the feed gives it back when it ends
  std::shared_ptr<Shared> shared = shared_.lock();
  if (!shared) return;
  std::lock_guard<std::mutex> lock(shared->mutex);
  shared->feeds--;
  shared->change_feeds--;
  auto it = shared->change_feeds_of.find(client_);
  if (it != shared->change_feeds_of.end() && --it->second == 0) shared->change_feeds_of.erase(it);
}

size_t LiveFeeds::size() const { return shared_->feeds.load(); }

void LiveFeeds::Wait(const std::string& id, JobStatus known, MonoTime deadline, Answer answer,
                     ReplyFn reply) {
  shared_->feeds++;
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->watched.insert(id);
  shared_->changed.insert(id);  // looked at once at first: it may have changed already
  shared_->new_waiters.push_back(
      std::make_unique<Waiter>(Waiter{id, known, deadline, std::move(answer), std::move(reply)}));
  shared_->wake.notify_one();
}

void LiveFeeds::Events(const std::string& id, Render render, std::shared_ptr<ReplyStream> stream) {
  shared_->feeds++;
  auto feed = std::make_unique<EventFeed>();
  feed->id = id;
  feed->render = std::move(render);
  feed->stream = std::move(stream);
  feed->last_write = SteadyNow();
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->watched.insert(id);
  shared_->changed.insert(id);
  shared_->new_events.push_back(std::move(feed));
  shared_->wake.notify_one();
}

void LiveFeeds::FollowLog(const std::string& id, std::string path, uint64_t offset,
                          std::shared_ptr<ReplyStream> stream) {
  shared_->feeds++;
  auto feed = std::make_unique<LogFeed>();
  feed->id = id;
  feed->path = std::move(path);
  feed->offset = offset;
  feed->stream = std::move(stream);
  std::lock_guard<std::mutex> lock(shared_->mutex);
  shared_->new_logs.push_back(std::move(feed));
  shared_->wake.notify_one();
}

void LiveFeeds::Changes(const std::shared_ptr<WatchPlace>& place,
                        std::function<bool(const Execution&)> matches, Render render,
                        std::shared_ptr<ReplyStream> stream) {
  auto feed = std::make_unique<ChangeFeed>();
  feed->client = place->client_;
  feed->matches = std::move(matches);
  feed->render = std::move(render);
  feed->stream = std::move(stream);
  feed->last_write = SteadyNow();
  std::lock_guard<std::mutex> lock(shared_->mutex);
  place->taken_ = true;  // counted since ReserveWatch; the feeds' thread gives it back
  shared_->new_changes.push_back(std::move(feed));
  shared_->wake.notify_one();
}

void LiveFeeds::Unwatch(const std::string& id) {
  // Called with shared_->mutex held.
  auto it = shared_->watched.find(id);
  if (it != shared_->watched.end()) shared_->watched.erase(it);
}

bool LiveFeeds::Serve(Waiter& w, MonoTime now, bool changed) {
  if (changed) {
    // The status alone tells whether to answer; the whole record only for the answer.
    std::optional<ExecutionState> state = store_.State(w.id);
    if (!state || state->job_status != w.known) {
      w.reply(w.answer(store_.Get(w.id)));
      return true;
    }
  }
  if (now >= w.deadline) {
    w.reply(w.answer(store_.Get(w.id)));
    return true;
  }
  return false;
}

bool LiveFeeds::Serve(EventFeed& f, MonoTime now, bool changed) {
  if (!f.stream->open()) return true;
  std::optional<ExecutionState> state = changed ? store_.State(f.id) : std::nullopt;
  if (state && (!f.sent || *f.sent != state->job_status)) {
    std::optional<Execution> e = store_.Get(f.id);
    if (e) {
      f.sent = e->job_status;
      f.stream->Write("event: status\nid: " + std::string(JobStatusName(e->job_status)) +
                      "\ndata: " + f.render(*e) + "\n\n");
      f.last_write = now;
      if (IsTerminal(e->job_status)) {
        f.stream->End();
        return true;
      }
    }
  }
  if (now - f.last_write >= settings_.keep_alive) {
    f.stream->Write(": keep-alive\n\n");
    f.last_write = now;
  }
  return false;
}

bool LiveFeeds::Serve(LogFeed& f, MonoTime now) {
  if (!f.stream->open()) return true;
  std::optional<ExecutionState> e = store_.State(f.id);
  bool ended = !e || IsTerminal(e->job_status);
  if (f.fd < 0) f.fd = open(f.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  bool read_any = false;
  if (f.fd >= 0) {
    std::string chunk(settings_.read_chunk, '\0');
    while (f.stream->Backlog() < settings_.max_backlog) {
      ssize_t n = pread(f.fd, chunk.data(), chunk.size(), static_cast<off_t>(f.offset));
      if (n <= 0) break;
      f.offset += static_cast<uint64_t>(n);
      read_any = true;
      if (!f.stream->Write(chunk.substr(0, static_cast<size_t>(n)))) return true;
    }
  }
  if (!ended) return false;
  // The worker writes the log's last lines before it reports the end; one more quiet read after
  // the end was seen covers a view that saw the end first.
  if (read_any || f.stream->Backlog() >= settings_.max_backlog) {
    f.quiet_reads_after_end = 0;
    return false;
  }
  if (++f.quiet_reads_after_end < 2) return false;
  f.stream->End();
  return true;
}

bool LiveFeeds::Serve(ChangeFeed& f, MonoTime now, const std::vector<Execution>& changed) {
  if (!f.stream->open()) return true;
  for (const Execution& e : changed) {
    if (!f.matches(e)) continue;
    if (f.stream->Backlog() >= settings_.max_backlog) {
      f.stream->End();  // it would miss changes: it reloads instead
      return true;
    }
    if (!f.stream->Write("event: status\ndata: " + f.render(e) + "\n\n")) return true;
    f.last_write = now;
  }
  if (now - f.last_write >= settings_.keep_alive) {
    f.stream->Write(": keep-alive\n\n");
    f.last_write = now;
  }
  return false;
}

void LiveFeeds::Run() {
  MonoTime next_log_poll = SteadyNow();
  while (true) {
    std::set<std::string> changed;
    std::set<std::string> changed_any;
    {
      std::unique_lock<std::mutex> lock(shared_->mutex);
      MonoTime wake_at = SteadyNow() + settings_.keep_alive;
      for (const auto& w : waiters_) wake_at = std::min(wake_at, w->deadline);
      if (!logs_.empty() || !shared_->new_logs.empty()) wake_at = std::min(wake_at, next_log_poll);
      shared_->wake.wait_until(lock, wake_at, [&] {
        return shared_->stopping || !shared_->changed.empty() || !shared_->new_logs.empty() ||
               !shared_->changed_any.empty() || !shared_->new_changes.empty() || shared_->sweep;
      });
      if (shared_->stopping) return;
      shared_->sweep = false;
      changed.swap(shared_->changed);
      changed_any.swap(shared_->changed_any);
      for (auto& f : shared_->new_changes) changes_.push_back(std::move(f));
      shared_->new_changes.clear();
      for (auto& w : shared_->new_waiters) waiters_.push_back(std::move(w));
      for (auto& f : shared_->new_events) events_.push_back(std::move(f));
      for (auto& f : shared_->new_logs) logs_.push_back(std::move(f));
      shared_->new_waiters.clear();
      shared_->new_events.clear();
      shared_->new_logs.clear();
    }
    MonoTime now = SteadyNow();
    std::vector<std::string> done_ids;
    auto serve_all = [&](auto& feeds, auto serve) {
      size_t before = feeds.size();
      std::erase_if(feeds, [&](auto& f) { return serve(*f); });
      shared_->feeds -= before - feeds.size();
    };
    serve_all(waiters_, [&](Waiter& w) {
      bool done = Serve(w, now, changed.count(w.id) > 0);
      if (done) done_ids.push_back(w.id);
      return done;
    });
    serve_all(events_, [&](EventFeed& f) {
      bool done = Serve(f, now, changed.count(f.id) > 0);
      if (done) done_ids.push_back(f.id);
      return done;
    });
    if (!changes_.empty()) {
      std::vector<Execution> changed_executions;  // unpacked once for every change feed
      for (const std::string& id : changed_any) {
        if (std::optional<Execution> e = store_.Get(id)) changed_executions.push_back(*e);
      }
      std::vector<std::string> ended_of;  // the client of each change feed that ended
      serve_all(changes_, [&](ChangeFeed& f) {
        bool done = Serve(f, now, changed_executions);
        if (done) ended_of.push_back(f.client);
        return done;
      });
      if (!ended_of.empty()) {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        shared_->change_feeds -= ended_of.size();
        for (const std::string& client : ended_of) {
          auto it = shared_->change_feeds_of.find(client);
          if (it != shared_->change_feeds_of.end() && --it->second == 0) {
            shared_->change_feeds_of.erase(it);
          }
        }
      }
    }
    if (now >= next_log_poll) {
      serve_all(logs_, [&](LogFeed& f) { return Serve(f, now); });
      next_log_poll = now + settings_.log_poll;
    }
    if (!done_ids.empty()) {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      for (const std::string& id : done_ids) Unwatch(id);
    }
  }
}

}  // namespace sluice
