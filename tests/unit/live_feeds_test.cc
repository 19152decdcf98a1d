#include "gateway/live_feeds.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "gateway/log_reply.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

constexpr auto kBound = 10s;  // a bound on waiting for the feeds' thread, not a timing claim

Execution Record(JobStatus status, int attempt = 0) {
  Execution e;
  e.id = "0190f3a2-7b1c-7d2e-8f3a-0123456789ab";
  e.job_name = "periodic-echo";
  e.job_type = JobType::kPeriodic;
  e.job_status = status;
  e.attempt = attempt;
  e.worker = attempt ? "w1" : "";
  e.create_time = SystemClock::Instance().Now();
  e.client = "ci";
  e.fingerprint = "fp";
  return e;
}

// What a connection would send: the stream's bytes, collected; `taken` says whether the socket
// takes them (Sent) as they come.
struct Collected {
  std::mutex mutex;
  std::condition_variable changed;
  std::string bytes;
  bool ended = false;
  bool taken = true;
  std::shared_ptr<ReplyStream> stream;

  std::shared_ptr<ReplyStream> Make() {
    stream = std::make_shared<ReplyStream>([this](std::string b, bool end) {
      std::lock_guard<std::mutex> lock(mutex);
      bytes += b;
      ended = ended || end;
      changed.notify_all();
    });
    return stream;
  }
  bool WaitUntil(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(mutex);
    return changed.wait_for(lock, kBound, [&] {
      if (taken && stream) stream->Sent(bytes.size() + 64);  // chunk framing aside
      return done();
    });
  }
};

// Feeds leave once done; their count drops to zero.
bool WaitForZero(const LiveFeeds& feeds) {
  auto until = std::chrono::steady_clock::now() + kBound;
  while (feeds.size() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  return feeds.size() == 0;
}

class LiveFeedsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("live-feeds-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ExecutionStore store_;
  std::filesystem::path dir_;
};

TEST_F(LiveFeedsTest, AWaiterIsAnsweredWhenTheStatusMovesOnFromTheKnownOne) {
  store_.Apply(Record(JobStatus::kTriggered));
  LiveFeeds feeds(store_, {});
  std::promise<std::string> answered;
  feeds.Wait(
      Record(JobStatus::kTriggered).id, JobStatus::kTriggered,
      std::chrono::steady_clock::now() + 60s,
      [](const std::optional<Execution>& e) {
        return JsonReply(200, e ? JobStatusName(e->job_status) : "none");
      },
      [&answered](ApiReply r) { answered.set_value(r.body); });
  EXPECT_EQ(feeds.size(), 1u);
  store_.Apply(Record(JobStatus::kPending, 1));
  auto f = answered.get_future();
  ASSERT_EQ(f.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(f.get(), "PENDING\n");
  EXPECT_TRUE(WaitForZero(feeds));
}

TEST_F(LiveFeedsTest, AWaiterWithoutAChangeIsAnsweredAtItsDeadline) {
  store_.Apply(Record(JobStatus::kPending, 1));
  LiveFeeds feeds(store_, {});
  std::promise<std::string> answered;
  feeds.Wait(
      Record(JobStatus::kPending).id, JobStatus::kPending, std::chrono::steady_clock::now() + 50ms,
      [](const std::optional<Execution>& e) {
        return JsonReply(200, JobStatusName(e->job_status));
      },
      [&answered](ApiReply r) { answered.set_value(r.body); });
  auto f = answered.get_future();
  ASSERT_EQ(f.wait_for(kBound), std::future_status::ready);
  EXPECT_EQ(f.get(), "PENDING\n");
}

TEST_F(LiveFeedsTest, EventsFollowEachChangeAndEndAfterTheTerminalOne) {
  store_.Apply(Record(JobStatus::kTriggered));
  LiveFeeds feeds(store_, {});
  Collected out;
  feeds.Events(
      Record(JobStatus::kTriggered).id,
      [](const Execution& e) { return std::string("{") + JobStatusName(e.job_status) + "}"; },
      out.Make());
  ASSERT_TRUE(out.WaitUntil([&] { return out.bytes.find("TRIGGERED") != std::string::npos; }));
  store_.Apply(Record(JobStatus::kPending, 1));
  ASSERT_TRUE(out.WaitUntil([&] { return out.bytes.find("{PENDING}") != std::string::npos; }));
  store_.Apply(Record(JobStatus::kSuccess, 1));
  ASSERT_TRUE(out.WaitUntil([&] { return out.ended; }));
  EXPECT_EQ(out.bytes,
            "event: status\nid: TRIGGERED\ndata: {TRIGGERED}\n\n"
            "event: status\nid: PENDING\ndata: {PENDING}\n\n"
            "event: status\nid: SUCCESS\ndata: {SUCCESS}\n\n");
  EXPECT_TRUE(WaitForZero(feeds));
}

TEST_F(LiveFeedsTest, AChangeFeedSendsEveryMatchingChangeAndNothingElse) {
  LiveFeeds feeds(store_, {});
  Collected out;
  feeds.Changes(
      feeds.ReserveWatch("ci"), [](const Execution& e) { return e.job_name == "periodic-echo"; },
      [](const Execution& e) { return e.id + ":" + JobStatusName(e.job_status); }, out.Make());
  Execution other = Record(JobStatus::kTriggered);
  other.id = "0190f3a2-7b1c-7d2e-8f3a-0000000000ff";
  other.job_name = "hidden";
  // Wait until the feed is taken in (its keep-alive timer would not tell): a first change.
  store_.Apply(Record(JobStatus::kTriggered));
  ASSERT_TRUE(out.WaitUntil([&] { return out.bytes.find(":TRIGGERED") != std::string::npos; }));
  store_.Apply(other);
  store_.Apply(Record(JobStatus::kPending, 1));
  ASSERT_TRUE(out.WaitUntil([&] { return out.bytes.find(":PENDING") != std::string::npos; }));
  {
    std::lock_guard<std::mutex> lock(out.mutex);
    EXPECT_EQ(out.bytes.find("hidden"), std::string::npos);
    EXPECT_EQ(out.bytes.find(other.id), std::string::npos) << "a change the filter does not match";
    EXPECT_TRUE(out.bytes.starts_with("event: status\ndata: " + Record(JobStatus::kTriggered).id +
                                      ":TRIGGERED\n\n"))
        << out.bytes;
    EXPECT_FALSE(out.ended) << "a change feed never ends by itself";
  }
  EXPECT_EQ(feeds.size(), 1u);
  out.stream->Close();  // the client went away: the feed goes at the next change
  store_.Apply(Record(JobStatus::kSuccess, 1));
  EXPECT_TRUE(WaitForZero(feeds));
}

TEST_F(LiveFeedsTest, AChangeFeedWhoseReaderFallsBehindIsEnded) {
  LiveFeeds::Settings settings;
  settings.max_backlog = 1024;
  LiveFeeds feeds(store_, settings);
  Collected out;
  out.taken = false;  // the socket takes nothing
  feeds.Changes(
      feeds.ReserveWatch("ci"), [](const Execution&) { return true; },
      [](const Execution&) { return std::string(300, 'x'); }, out.Make());
  for (int i = 0; i < 20 && !out.ended; ++i) {
    Execution e = Record(JobStatus::kTriggered);
    e.id = "0190f3a2-7b1c-7d2e-8f3a-0000000001" + std::to_string(10 + i);
    store_.Apply(e);
    out.WaitUntil([&] { return out.ended || out.bytes.size() >= 300u * (i + 1); });
  }
  ASSERT_TRUE(out.WaitUntil([&] { return out.ended; })) << "ended to reload, not left to grow";
  EXPECT_LE(out.bytes.size(), 1024u + 400u);
  EXPECT_TRUE(WaitForZero(feeds));
}

// Watches never end by themselves: one client may not hold them all (nor, in all, every
// connection of the gateway); one that ends frees its place.
TEST_F(LiveFeedsTest, ChangeFeedsAreBoundedPerClientAndInAll) {
  LiveFeeds::Settings settings;
  settings.max_watches = 3;
  settings.max_watches_per_client = 2;
  settings.keep_alive = std::chrono::hours(1);
  LiveFeeds feeds(store_, settings);
  auto all = [](const Execution&) { return true; };
  auto render = [](const Execution& e) { return e.id; };
  Collected a1, a2, b1;
  auto place_a1 = feeds.ReserveWatch("a");
  ASSERT_NE(place_a1, nullptr);
  feeds.Changes(place_a1, all, render, a1.Make());
  auto place_a2 = feeds.ReserveWatch("a");
  ASSERT_NE(place_a2, nullptr);
  feeds.Changes(place_a2, all, render, a2.Make());
  EXPECT_EQ(feeds.ReserveWatch("a"), nullptr) << "client a has its two";
  auto place_b1 = feeds.ReserveWatch("b");
  ASSERT_NE(place_b1, nullptr) << "another client is not held back by a";
  feeds.Changes(place_b1, all, render, b1.Make());
  EXPECT_EQ(feeds.ReserveWatch("c"), nullptr) << "three in all";
  EXPECT_FALSE(feeds.Full()) << "other feeds (a log, an execution's events) still fit";
  // One change, seen by b: the feeds' thread has taken every feed in.
  store_.Apply(Record(JobStatus::kTriggered));
  ASSERT_TRUE(b1.WaitUntil([&] { return !b1.bytes.empty(); }));
  // Then a's first reader goes away. No change comes (and the keep-alive turn is an hour away):
  // the refusal itself has the feeds' thread let the closed feed go, and a's retry is taken.
  a1.stream->Close();
  auto until = std::chrono::steady_clock::now() + kBound;
  while (!feeds.ReserveWatch("a") && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(feeds.size(), 2u);
  EXPECT_NE(feeds.ReserveWatch("a"), nullptr) << "the ended feed is no longer counted";
  EXPECT_NE(feeds.ReserveWatch("c"), nullptr);
  a2.stream->Close();
  b1.stream->Close();
  store_.Apply(Record(JobStatus::kPending, 1));
  EXPECT_TRUE(WaitForZero(feeds));
}

// A watch is counted from the moment it is admitted, not when its stream starts: two requests
// admitted before either stream started must not both take the last place. A place never used
// (its connection went first) is given back.
TEST_F(LiveFeedsTest, AWatchPlaceCountsFromItsReservationAndIsGivenBackUnused) {
  LiveFeeds::Settings settings;
  settings.max_watches = 3;
  settings.max_watches_per_client = 2;
  settings.keep_alive = std::chrono::hours(1);
  LiveFeeds feeds(store_, settings);
  auto first = feeds.ReserveWatch("a");
  auto second = feeds.ReserveWatch("a");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(feeds.ReserveWatch("a"), nullptr) << "a's two are taken before either stream starts";
  EXPECT_EQ(feeds.size(), 2u);
  second.reset();  // never became a feed
  EXPECT_EQ(feeds.size(), 1u);
  auto again = feeds.ReserveWatch("a");
  ASSERT_NE(again, nullptr) << "the unused place was given back";
  Collected out;
  feeds.Changes(
      first, [](const Execution&) { return true; }, [](const Execution& e) { return e.id; },
      out.Make());
  first.reset();  // the feed holds the place now, not the reservation
  EXPECT_EQ(feeds.size(), 2u);
  store_.Apply(Record(JobStatus::kTriggered));
  ASSERT_TRUE(out.WaitUntil([&] { return !out.bytes.empty(); }));
  out.stream->Close();
  again.reset();
  store_.Apply(Record(JobStatus::kPending, 1));
  EXPECT_TRUE(WaitForZero(feeds)) << "the ended feed gave its place back once, not twice";
  EXPECT_NE(feeds.ReserveWatch("a"), nullptr);
}

// Live feeds hold their connections: with the default limits they cannot take all of them, so a
// request that follows nothing is still answered, and a feed past the limit gets a 503 answer.
TEST(LiveFeedsSettings, LeaveConnectionsForOtherRequests) {
  LiveFeeds::Settings defaults;
  GatewayConfig gateway;
  EXPECT_LT(defaults.max_feeds, static_cast<size_t>(gateway.max_connections));
  for (size_t connections : {size_t{1024}, size_t{100}, size_t{16}, size_t{65536}}) {
    SCOPED_TRACE(connections);
    LiveFeeds::Settings feeds = LiveFeeds::Settings::ForConnections(connections);
    EXPECT_LE(feeds.max_feeds, connections * 3 / 4) << "a quarter left for other requests";
    EXPECT_LT(feeds.max_watches, feeds.max_feeds);
    EXPECT_LT(feeds.max_watches_per_client, feeds.max_watches);
    EXPECT_LE(feeds.max_watches_per_client, 64u);
  }
  LiveFeeds::Settings standard = LiveFeeds::Settings::ForConnections(1024);
  EXPECT_EQ(standard.max_feeds, 768u);
  EXPECT_EQ(standard.max_watches, 512u);
  EXPECT_EQ(standard.max_watches_per_client, 64u);
}

TEST_F(LiveFeedsTest, AFollowedLogSendsWhatIsAppendedAndEndsAfterTheExecutionEnds) {
  store_.Apply(Record(JobStatus::kPending, 1));
  std::string path = (dir_ / "build-log.txt").string();
  std::ofstream log(path);
  log << "one\n" << std::flush;
  LiveFeeds::Settings settings;
  settings.log_poll = 10ms;
  LiveFeeds feeds(store_, settings);
  Collected out;
  feeds.FollowLog(Record(JobStatus::kPending).id, path, 1, out.Make());
  ASSERT_TRUE(out.WaitUntil([&] { return out.bytes == "ne\n"; })) << out.bytes;
  log << "two\n" << std::flush;
  ASSERT_TRUE(out.WaitUntil([&] { return out.bytes == "ne\ntwo\n"; })) << out.bytes;
  EXPECT_FALSE(out.ended);
  log << "finished\n" << std::flush;
  store_.Apply(Record(JobStatus::kSuccess, 1));
  ASSERT_TRUE(out.WaitUntil([&] { return out.ended; }));
  EXPECT_EQ(out.bytes, "ne\ntwo\nfinished\n");
}

TEST_F(LiveFeedsTest, ASlowReaderHoldsBackItsOwnLogFeed) {
  store_.Apply(Record(JobStatus::kPending, 1));
  std::string path = (dir_ / "big-log.txt").string();
  std::ofstream(path) << std::string(1024 * 1024, 'x');
  LiveFeeds::Settings settings;
  settings.log_poll = 10ms;
  settings.max_backlog = 64 * 1024;
  settings.read_chunk = 16 * 1024;
  LiveFeeds feeds(store_, settings);
  Collected out;
  out.taken = false;  // the socket takes nothing
  feeds.FollowLog(Record(JobStatus::kPending).id, path, 0, out.Make());
  ASSERT_TRUE(out.WaitUntil([&] { return out.bytes.size() >= 64 * 1024; }));
  // Several polls later it still holds no more than the backlog allows (one chunk beyond).
  for (int i = 0; i < 5; ++i) std::this_thread::sleep_for(20ms);
  {
    std::lock_guard<std::mutex> lock(out.mutex);
    EXPECT_LE(out.bytes.size(), 64u * 1024 + 16 * 1024);
  }
  out.stream->Close();  // the client went away: the feed goes too
  EXPECT_TRUE(WaitForZero(feeds));
}

TEST(ParseRange, ReadsTheFormsOfRfc9110AndIgnoresTheRest) {
  struct Case {
    const char* header;
    uint64_t size;
    bool has_range;
    uint64_t first, last;
    bool unsatisfiable;
  };
  for (const Case& c : std::vector<Case>{
           {"bytes=0-3", 10, true, 0, 3, false},
           {"bytes=4-", 10, true, 4, 9, false},
           {"bytes=4-100", 10, true, 4, 9, false},
           {"bytes=-3", 10, true, 7, 9, false},
           {"bytes=-30", 10, true, 0, 9, false},
           {"bytes=10-", 10, false, 0, 0, true},
           {"bytes=-0", 10, false, 0, 0, true},
           {"bytes=5-2", 10, false, 0, 0, false},
           {"bytes=0-1,4-5", 10, false, 0, 0, false},
           {"items=0-3", 10, false, 0, 0, false},
           {"bytes=x-3", 10, false, 0, 0, false},
           {"bytes=99999999999999999999-", 10, false, 0, 0, false},
           {"", 10, false, 0, 0, false},
       }) {
    bool unsatisfiable = false;
    std::optional<ByteRange> r = ParseRange(c.header, c.size, &unsatisfiable);
    EXPECT_EQ(r.has_value(), c.has_range) << c.header;
    EXPECT_EQ(unsatisfiable, c.unsatisfiable) << c.header;
    if (r && c.has_range) {
      EXPECT_EQ(r->first, c.first) << c.header;
      EXPECT_EQ(r->last, c.last) << c.header;
    }
  }
}

}  // namespace
}  // namespace sluice
