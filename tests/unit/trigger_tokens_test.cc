#include "gateway/trigger_tokens.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <set>

#include "common/crypto.h"
#include "common/execution_id.h"
#include "fakes.h"
#include "gateway/gitlab_api.h"
#include "gateway/router.h"

namespace sluice {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

TriggerToken Token(int64_t project, int64_t id, const std::string& clear, int created_second) {
  TriggerToken t;
  t.id = id;
  t.project_id = project;
  t.token_sha256 = Sha256Hex(clear);
  t.short_token = clear.substr(6, 4);
  t.description = "d" + std::to_string(id);
  t.owner = "ops";
  t.created_at = TestEpoch() + seconds(created_second);
  t.updated_at = t.created_at;
  return t;
}

TEST(TriggerTokenCodecTest, RoundTripsAndRejectsIncompleteRecords) {
  TriggerToken t = Token(9, 445584632984941, "glptt-0123456789abcdef0123456789abcdef01234567", 5);
  t.expires_at = TestEpoch() + hours(24);
  auto back = DecodeTriggerToken(EncodeTriggerToken(t));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, t.id);
  EXPECT_EQ(back->project_id, 9);
  EXPECT_EQ(back->token_sha256, t.token_sha256);
  EXPECT_EQ(back->short_token, "0123");
  EXPECT_EQ(back->description, t.description);
  EXPECT_EQ(back->owner, "ops");
  EXPECT_EQ(back->created_at, t.created_at);
  EXPECT_EQ(back->expires_at, t.expires_at);
  EXPECT_EQ(EncodeTriggerToken(t).find("glptt-"), std::string::npos) << "no clear token";

  EXPECT_FALSE(DecodeTriggerToken("[]").ok());
  EXPECT_FALSE(DecodeTriggerToken(R"({"id": 1, "project_id": 9})").ok());
}

TEST(TriggerTokenTableTest, FollowsTheTopicTombstonesIncluded) {
  TriggerTokenTable table;
  TriggerToken a = Token(9, 2, "glptt-aaaa" + std::string(36, 'a'), 20);
  TriggerToken b = Token(9, 1, "glptt-bbbb" + std::string(36, 'b'), 10);
  TriggerToken other = Token(10, 3, "glptt-cccc" + std::string(36, 'c'), 5);
  for (const TriggerToken& t : {a, b, other}) {
    table.Apply(TriggerTokenKey(t.project_id, t.id), EncodeTriggerToken(t));
  }
  table.Apply("9/4", "not json");  // an unreadable record is ignored

  std::vector<TriggerToken> nine = table.ForProject(9);
  ASSERT_EQ(nine.size(), 2u);
  EXPECT_EQ(nine[0].id, 1) << "oldest first";
  EXPECT_EQ(nine[1].id, 2);
  EXPECT_EQ(table.FindByHash(a.token_sha256)->id, 2);
  EXPECT_FALSE(table.Get(9, 3)) << "another project's token";

  table.Apply(TriggerTokenKey(9, 2), "");  // revoked
  EXPECT_FALSE(table.Get(9, 2));
  EXPECT_FALSE(table.FindByHash(a.token_sha256));
  EXPECT_EQ(table.ForProject(9).size(), 1u);
}

TEST(TriggerTokenTest, ExpiryIsInclusiveOfItsMoment) {
  TriggerToken t = Token(9, 1, "glptt-" + std::string(40, 'a'), 0);
  EXPECT_FALSE(t.ExpiredAt(TestEpoch() + hours(1000)));
  t.expires_at = TestEpoch() + hours(1);
  EXPECT_FALSE(t.ExpiredAt(TestEpoch()));
  EXPECT_TRUE(t.ExpiredAt(TestEpoch() + hours(1)));
}

TEST(NumericIdTest, ExactInJavaScriptTimeOrderedAndDistinct) {
  std::set<int64_t> seen;
  int64_t previous = 0;
  for (int i = 0; i < 200; ++i) {
    int64_t id = NewNumericId(TestEpoch() + seconds(i));
    EXPECT_GT(id, 0);
    EXPECT_LT(id, int64_t{1} << 53);
    EXPECT_GT(id, previous) << "a later millisecond gives a larger id";
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 200u);
}

// The API's writes are answered from Kafka's acknowledgement, and only then change the table.
class GitLabApiWriteTest : public ::testing::Test {
 protected:
  GitLabApiWriteTest() {
    ClientConfig ops;
    ops.name = "ops";
    ops.token_sha256 = Sha256Hex("ops-token");
    config_.clients.push_back(ops);
    ProjectConfig p;
    p.id = 9;
    p.path = "group/project";
    p.members["ops"] = ProjectRole::kMaintainer;
    p.members["dev"] = ProjectRole::kMaintainer;
    config_.projects.push_back(p);
    ClientConfig dev;
    dev.name = "dev";
    dev.token_sha256 = Sha256Hex("dev-token");
    config_.clients.push_back(dev);
    api_.Register(router_);
  }

  // The answer lands in reply_, whenever it comes.
  void Send(const std::string& method, const std::string& path, const std::string& content_type,
            const std::string& body, const std::string& token = "ops-token") {
    ApiRequest r;
    r.method = method;
    r.path = path;
    r.private_token = token;
    r.content_type = content_type;
    r.body = body;
    reply_.reset();
    router_.Dispatch(r, [this](ApiReply a) { reply_ = a; });
  }
  void Create(const std::string& body) {
    Send("POST", "/api/v4/projects/9/triggers", "application/json", body);
  }
  // Creates a token as `ops`, acknowledged: its id and whole token.
  std::pair<int64_t, std::string> Created() {
    Create(R"({"description": "nightly"})");
    publisher_.Complete(publisher_.size() - 1);
    rapidjson::Document d;
    d.Parse(reply_->body.c_str());
    return {d["id"].GetInt64(), d["token"].GetString()};
  }
  std::string TokenShown(int64_t id, const std::string& caller_token) {
    Send("GET", "/api/v4/projects/9/triggers/" + std::to_string(id), "", "", caller_token);
    rapidjson::Document d;
    d.Parse(reply_->body.c_str());
    return d.IsObject() && d.HasMember("token") ? d["token"].GetString() : reply_->body;
  }

  std::optional<ApiReply> reply_;

  Config config_;
  FakePublisher publisher_;
  TriggerTokenTable table_;
  ManualClock clock_;
  FakeStatusView view_;
  PipelineStore pipelines_;
  DeadlineTimer deadlines_;
  GitLabApi api_{config_, publisher_, view_, table_, pipelines_, deadlines_, clock_};
  Router router_;
};

TEST_F(GitLabApiWriteTest, CreateAnswersOnlyOnceKafkaAcknowledged) {
  Create(R"({"description": "nightly"})");
  EXPECT_FALSE(reply_) << "no answer before the acknowledgement";
  ASSERT_EQ(publisher_.size(), 1u);
  EXPECT_EQ(publisher_.records()[0].topic, config_.kafka.TriggersTopic());
  EXPECT_TRUE(table_.ForProject(9).empty());
  publisher_.Complete(0);
  ASSERT_TRUE(reply_.has_value());
  EXPECT_EQ(reply_->status, 201) << reply_->body;
  ASSERT_EQ(table_.ForProject(9).size(), 1u) << "read-your-writes on this gateway";
  EXPECT_EQ(table_.ForProject(9)[0].description, "nightly");
  // The record in Kafka holds the hash, never the token the answer shows.
  EXPECT_EQ(publisher_.records()[0].value.find("glptt-"), std::string::npos);
  EXPECT_NE(reply_->body.find("glptt-"), std::string::npos);
}

TEST_F(GitLabApiWriteTest, AWriteKafkaRefusesIs503WithRetryAfterAndChangesNothing) {
  publisher_.FailImmediately(Unavailable("brokers down"));
  Create(R"({"description": "nightly"})");
  ASSERT_TRUE(reply_.has_value());
  EXPECT_EQ(reply_->status, 503);
  EXPECT_EQ(reply_->body, "{\"message\":\"503 Service Unavailable\"}\n");
  bool retry_after = false;
  for (const auto& [name, value] : reply_->headers) retry_after |= name == "Retry-After";
  EXPECT_TRUE(retry_after);
  EXPECT_TRUE(table_.ForProject(9).empty());
}

TEST_F(GitLabApiWriteTest, ADescriptionThatIsNotUtf8Is400AndNothingIsWritten) {
  Create("{\"description\": \"\\udc00\"}");
  ASSERT_TRUE(reply_.has_value());
  EXPECT_EQ(reply_->status, 400) << reply_->body;
  ApiRequest r;
  r.method = "POST";
  r.path = "/api/v4/projects/9/triggers";
  r.private_token = "ops-token";
  r.content_type = "application/x-www-form-urlencoded";
  r.body = "description=%C0%AF";
  reply_.reset();
  router_.Dispatch(r, [this](ApiReply a) { reply_ = a; });
  ASSERT_TRUE(reply_.has_value());
  EXPECT_EQ(reply_->status, 400);
  EXPECT_EQ(reply_->body, "{\"error\":\"description is not valid UTF-8\"}\n");
  EXPECT_EQ(publisher_.size(), 0u);
}

TEST_F(GitLabApiWriteTest, WithoutAKeyItsOwnerTooSeesFourCharacters) {
  auto [id, token] = Created();
  EXPECT_EQ(table_.Get(9, id)->sealed_token, "");
  EXPECT_EQ(TokenShown(id, "ops-token"), token.substr(6, 4));
  EXPECT_EQ(TokenShown(id, "dev-token"), token.substr(6, 4));
}

TEST_F(GitLabApiWriteTest, WithAKeyItsOwnerSeesItWholeInGetListAndUpdate) {
  config_.gitlab.trigger_token_key = std::string(kSealKeyBytes, '\x11');
  auto [id, token] = Created();
  // Kafka holds it sealed, never in clear.
  EXPECT_EQ(publisher_.records()[0].value.find(token), std::string::npos);
  EXPECT_NE(publisher_.records()[0].value.find("sealed_token"), std::string::npos);
  EXPECT_EQ(TokenShown(id, "ops-token"), token);
  EXPECT_EQ(TokenShown(id, "dev-token"), token.substr(6, 4)) << "another maintainer";
  Send("GET", "/api/v4/projects/9/triggers", "", "");
  EXPECT_NE(reply_->body.find("\"token\":\"" + token + "\""), std::string::npos) << reply_->body;
  Send("GET", "/api/v4/projects/9/triggers", "", "", "dev-token");
  EXPECT_EQ(reply_->body.find(token), std::string::npos);
  Send("PUT", "/api/v4/projects/9/triggers/" + std::to_string(id), "application/json",
       R"({"description": "renamed"})");
  ASSERT_FALSE(reply_) << "answered once Kafka has it";
  publisher_.Complete(publisher_.size() - 1);
  ASSERT_TRUE(reply_);
  EXPECT_EQ(reply_->status, 200);
  EXPECT_NE(reply_->body.find("\"token\":\"" + token + "\""), std::string::npos)
      << "python-gitlab's save() keeps what the answer says";
  // A record whose sealed token was altered at rest shows the short form.
  TriggerToken altered = *table_.Get(9, id);
  altered.sealed_token[4] = altered.sealed_token[4] == 'A' ? 'B' : 'A';
  table_.Put(altered);
  EXPECT_EQ(TokenShown(id, "ops-token"), token.substr(6, 4));
}

TEST_F(GitLabApiWriteTest, TheTriggerListIsPaginated) {
  for (int i = 0; i < 3; ++i) Created();
  Send("GET", "/api/v4/projects/9/triggers", "", "");
  ASSERT_EQ(reply_->status, 200);
  std::map<std::string, std::string> headers(reply_->headers.begin(), reply_->headers.end());
  EXPECT_EQ(headers["X-Total"], "3");
  EXPECT_EQ(headers["X-Page"], "1");
  EXPECT_EQ(headers["X-Per-Page"], "20");
  EXPECT_NE(headers["Link"].find("rel=\"last\""), std::string::npos);
}

}  // namespace
}  // namespace sluice
