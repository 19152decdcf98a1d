#include "common/execution_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "fakes.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

// The 12 hex digits of the 48-bit Unix millisecond timestamp, as a v7 id begins.
std::string HexMillis(TimePoint t) {
  long long ms = std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
  char buf[13];
  std::snprintf(buf, sizeof buf, "%012llx", ms);
  return buf;
}

bool IsLowerHexId(const std::string& id) {
  for (char c : id) {
    if (c >= 'A' && c <= 'F') return false;
  }
  return IsExecutionId(id);
}

TEST(NewExecutionIdV7Test, IsACanonicalVersion7UuidCarryingTheTime) {
  TimePoint now = TestEpoch() + milliseconds(123);
  std::string id = NewExecutionIdV7(now);
  EXPECT_TRUE(IsLowerHexId(id)) << id;
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '7') << "version nibble: " << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "RFC 9562 variant: " << id;
  std::string hex_time = id.substr(0, 8) + id.substr(9, 4);
  EXPECT_EQ(hex_time, HexMillis(now));
}

TEST(NewExecutionIdV7Test, IdsOfLaterMillisecondsSortAfterEarlierOnes) {
  TimePoint t = TestEpoch();
  std::string previous = NewExecutionIdV7(t);
  for (int i = 0; i < 1000; ++i) {
    t += milliseconds(1 + i % 7);
    std::string next = NewExecutionIdV7(t);
    ASSERT_LT(previous, next) << "at step " << i;
    previous = next;
  }
}

TEST(NewExecutionIdV7Test, TenThousandIdsOfTheSameMillisecondAreDistinct) {
  TimePoint now = TestEpoch();
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewExecutionIdV7(now));
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(ExecutionIdForIdempotencyKeyTest, IsDeterministic) {
  EXPECT_EQ(ExecutionIdForIdempotencyKey("release-bot", "nightly-2026-11-23"),
            ExecutionIdForIdempotencyKey("release-bot", "nightly-2026-11-23"));
}

TEST(ExecutionIdForIdempotencyKeyTest, IsAVersion8Uuid) {
  std::string id = ExecutionIdForIdempotencyKey("release-bot", "k1");
  EXPECT_TRUE(IsLowerHexId(id)) << id;
  EXPECT_EQ(id[14], '8') << "version nibble: " << id;
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << "RFC 9562 variant: " << id;
}

TEST(ExecutionIdForIdempotencyKeyTest, DiffersPerClientAndPerKey) {
  struct Input {
    std::string client;
    std::string key;
  };
  // Pairs whose plain concatenation would collide must not.
  const Input inputs[] = {
      {"release-bot", "k1"}, {"release-bot", "k2"}, {"ci", "k1"},
      {"ci", "k2"},          {"ab", "c"},           {"a", "bc"},
      {"abc", ""},           {"", "abc"},           {"release-bot", "K1"},
  };
  std::set<std::string> ids;
  for (const Input& in : inputs) ids.insert(ExecutionIdForIdempotencyKey(in.client, in.key));
  EXPECT_EQ(ids.size(), std::size(inputs));
}

TEST(ExecutionIdForIdempotencyKeyTest, NeverEqualsAV7Id) {
  std::string v8 = ExecutionIdForIdempotencyKey("c", "k");
  EXPECT_NE(v8[14], NewExecutionIdV7(TestEpoch())[14]);
}

TEST(IsExecutionIdTest, AcceptsOnlyTheCanonicalForm) {
  struct Case {
    std::string text;
    bool want;
  };
  const Case cases[] = {
      {"0190f3a2-7b1c-7d2e-8f3a-0123456789ab", true},
      {"0190F3A2-7B1C-7D2E-8F3A-0123456789AB", true},
      {"00000000-0000-0000-0000-000000000000", true},
      {"", false},
      {"0190f3a2-7b1c-7d2e-8f3a-0123456789a", false},    // 35 characters
      {"0190f3a2-7b1c-7d2e-8f3a-0123456789abc", false},  // 37 characters
      {"0190f3a27b1c7d2e8f3a0123456789ab", false},       // no dashes
      {"0190f3a2-7b1c-7d2e-8f3a0-123456789ab", false},   // dash in the wrong place
      {"0190f3a2_7b1c_7d2e_8f3a_0123456789ab", false},   // other separators
      {"0190f3g2-7b1c-7d2e-8f3a-0123456789ab", false},   // 'g' is not hex
      {"{190f3a2-7b1c-7d2e-8f3a-0123456789a}", false},   // braces
      {"../../../../etc/passwd-aaaaaaaaaaaaa", false},   // path traversal of the same length
      {"0190f3a2-7b1c-7d2e-8f3a-0123456789a ", false},   // trailing space
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("\"" + c.text + "\"");
    EXPECT_EQ(IsExecutionId(c.text), c.want);
  }
}

TEST(IsExecutionIdTest, AcceptsEveryGeneratedId) {
  EXPECT_TRUE(IsExecutionId(NewExecutionIdV7(TestEpoch())));
  EXPECT_TRUE(IsExecutionId(ExecutionIdForIdempotencyKey("c", "k")));
}

}  // namespace
}  // namespace sluice
