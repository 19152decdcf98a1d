#include "common/clock.h"

#include <gtest/gtest.h>

#include <string>

#include "fakes.h"

namespace sluice {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ParseDurationTest, AcceptsTheConfigurationSpellings) {
  struct Case {
    std::string text;
    Duration want;
  };
  const Case cases[] = {
      {"10s", seconds(10)},         {"5m", minutes(5)},     {"1h", hours(1)},
      {"250ms", milliseconds(250)}, {"1h30m", minutes(90)}, {"1m30s", seconds(90)},
      {"2h0m5s", seconds(7205)},    {"0s", Duration(0)},    {"1s500ms", milliseconds(1500)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::optional<Duration> got = ParseDuration(c.text);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->count(), c.want.count());
  }
}

TEST(ParseDurationTest, RefusesAnythingElse) {
  const std::string cases[] = {
      "",     "10",   "s",     "ms",    "10x",   "-5s", "+5s",          "1.5s",
      " 10s", "10s ", "10 s",  "5M",    "10sec", "h1",  "1h30",         "m5",
      "1e3s", "∞s",   "10s\n", "0x10s", "10s5",  "s10", "99999999999h",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE("\"" + text + "\"");
    EXPECT_FALSE(ParseDuration(text).has_value()) << ParseDuration(text)->count() << "ms";
  }
}

TEST(FormatDurationTest, WritesTheLargestWholeUnitAndParsesBack) {
  struct Case {
    Duration d;
    std::string want;
  };
  const Case cases[] = {
      {seconds(10), "10s"}, {minutes(5), "5m"},
      {hours(2), "2h"},     {milliseconds(250), "250ms"},
      {seconds(90), "90s"}, {minutes(90), "90m"},
      {Duration(0), "0s"},  {milliseconds(1500), "1500ms"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(FormatDuration(c.d), c.want);
    std::optional<Duration> back = ParseDuration(FormatDuration(c.d));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->count(), c.d.count());
  }
}

TEST(Rfc3339Test, FormatsUtcWithMilliseconds) {
  TimePoint t = TestEpoch() + milliseconds(123);
  EXPECT_EQ(FormatRfc3339(t), "2026-11-23T10:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(TimePoint()), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(TimePoint(milliseconds(-1))), "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339Test, RoundTripsAtMillisecondPrecision) {
  const TimePoint cases[] = {
      TestEpoch(),
      TestEpoch() + milliseconds(1),
      TestEpoch() + milliseconds(999),
      TestEpoch() + hours(24 * 366) + milliseconds(42),
      TimePoint(),
      TimePoint(seconds(951782400)),  // 2000-02-29, a leap day
  };
  for (TimePoint t : cases) {
    std::string text = FormatRfc3339(t);
    SCOPED_TRACE(text);
    std::optional<TimePoint> back = ParseRfc3339(text);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, t);
  }
}

TEST(Rfc3339Test, ParsesOtherUtcSpellings) {
  struct Case {
    std::string text;
    TimePoint want;
  };
  const Case cases[] = {
      {"2026-11-23T10:00:00Z", TestEpoch()},
      {"2026-11-23T10:00:00+00:00", TestEpoch()},
      {"2026-11-23T10:00:00.5Z", TestEpoch() + milliseconds(500)},
      {"2026-11-23T10:00:00.123456789Z", TestEpoch() + milliseconds(123)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    std::optional<TimePoint> got = ParseRfc3339(c.text);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, c.want);
  }
}

TEST(Rfc3339Test, RefusesWhatIsNotATimestamp) {
  const std::string cases[] = {
      "",
      "garbage",
      "2026-11-23",
      "2026-11-23T10:00",
      "2026-11-23T10:00:00",
      "2026-11-23T10:00:00.123",
      "2026-11-23T10:00:00Zjunk",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE("\"" + text + "\"");
    EXPECT_FALSE(ParseRfc3339(text).has_value());
  }
}

TEST(ManualClockTest, MovesOnlyWhenAdvanced) {
  ManualClock clock;
  TimePoint start = clock.Now();
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(seconds(3));
  EXPECT_EQ(clock.Now(), start + seconds(3));
}

}  // namespace
}  // namespace sluice
