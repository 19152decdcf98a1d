// GitLab's lists and the objects python-gitlab reads first: pagination (page and per_page in,
// X-* headers and Link out), the pipeline list's filters and orders, a job list's scopes, the
// project, current-user and version objects, the gitlab.trigger_token_key setting, and which
// callers see a trigger token whole.

#include "gateway/gitlab_lists.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "gateway/gitlab_pagination.h"
#include "gateway/gitlab_projects.h"
#include "gateway/gitlab_replies.h"
#include "gateway/trigger_tokens.h"
#include "pipeline_fixtures.h"

namespace sluice {
namespace {

std::map<std::string, std::string> Headers(
    const std::vector<std::pair<std::string, std::string>>& h) {
  return {h.begin(), h.end()};
}

TEST(ReadPageRequest, DefaultsClampsAndRefusesWhatIsNotANumber) {
  struct Case {
    std::map<std::string, std::string> query;
    int64_t page;
    int64_t per_page;
    std::string error;  // empty: accepted
  };
  const std::vector<Case> cases = {
      {{}, 1, 20, ""},
      {{{"page", "3"}, {"per_page", "7"}}, 3, 7, ""},
      {{{"per_page", "500"}}, 1, 100, ""},
      {{{"per_page", "0"}}, 1, 20, ""},
      {{{"page", "-4"}}, 1, 20, ""},
      {{{"page", "0"}}, 1, 20, ""},
      {{{"page", "two"}}, 0, 0, "{\"error\":\"page is invalid\"}\n"},
      {{{"per_page", "1e3"}}, 0, 0, "{\"error\":\"per_page is invalid\"}\n"},
      {{{"page", "99999999999999999999"}}, 0, 0, "{\"error\":\"page is invalid\"}\n"},
  };
  for (const Case& c : cases) {
    PageRequestResult r = ReadPageRequest(c.query);
    if (c.error.empty()) {
      ASSERT_FALSE(r.error) << r.error->body;
      EXPECT_EQ(r.page.page, c.page);
      EXPECT_EQ(r.page.per_page, c.per_page);
    } else {
      ASSERT_TRUE(r.error);
      EXPECT_EQ(r.error->status, 400);
      EXPECT_EQ(r.error->body, c.error);
    }
  }
}

TEST(PaginationHeaders, AMiddlePageLinksAllFourWaysKeepingTheOtherParameters) {
  auto h = Headers(PaginationHeaders("http://gw.example:8080/", "/api/v4/projects/9/pipelines",
                                     {{"ref", "release/1.2"}, {"page", "2"}, {"per_page", "2"}},
                                     {2, 2}, 5));
  EXPECT_EQ(h["X-Total"], "5");
  EXPECT_EQ(h["X-Total-Pages"], "3");
  EXPECT_EQ(h["X-Per-Page"], "2");
  EXPECT_EQ(h["X-Page"], "2");
  EXPECT_EQ(h["X-Next-Page"], "3");
  EXPECT_EQ(h["X-Prev-Page"], "1");
  const std::string base = "http://gw.example:8080/api/v4/projects/9/pipelines?page=";
  EXPECT_EQ(h["Link"], "<" + base + "1&per_page=2&ref=release%2F1.2>; rel=\"prev\", <" + base +
                           "3&per_page=2&ref=release%2F1.2>; rel=\"next\", <" + base +
                           "1&per_page=2&ref=release%2F1.2>; rel=\"first\", <" + base +
                           "3&per_page=2&ref=release%2F1.2>; rel=\"last\"");
}

TEST(PaginationHeaders, FirstLastAndEmptyListsHaveNoPrevOrNext) {
  auto first = Headers(PaginationHeaders("http://h", "/l", {}, {1, 20}, 3));
  EXPECT_EQ(first["X-Next-Page"], "");
  EXPECT_EQ(first["X-Prev-Page"], "");
  EXPECT_EQ(first["X-Total-Pages"], "1");
  EXPECT_EQ(first["Link"],
            "<http://h/l?page=1&per_page=20>; rel=\"first\", "
            "<http://h/l?page=1&per_page=20>; rel=\"last\"");
  auto empty = Headers(PaginationHeaders("http://h", "/l", {}, {1, 20}, 0));
  EXPECT_EQ(empty["X-Total"], "0");
  EXPECT_EQ(empty["X-Total-Pages"], "0");
  EXPECT_EQ(empty["X-Next-Page"], "");
  auto last = Headers(PaginationHeaders("http://h", "/l", {}, {3, 1}, 3));
  EXPECT_EQ(last["X-Next-Page"], "");
  EXPECT_EQ(last["X-Prev-Page"], "2");
  auto beyond = Headers(PaginationHeaders("http://h", "/l", {}, {9, 1}, 3));
  EXPECT_EQ(beyond["X-Next-Page"], "");
  EXPECT_EQ(beyond["X-Prev-Page"], "");
}

using Bounds = std::pair<size_t, size_t>;

TEST(PageBounds, SlicesAndIsEmptyPastTheEnd) {
  EXPECT_EQ(PageBounds({1, 2}, 5), Bounds(0, 2));
  EXPECT_EQ(PageBounds({3, 2}, 5), Bounds(4, 5));
  EXPECT_EQ(PageBounds({4, 2}, 5), Bounds(5, 5));
  EXPECT_EQ(PageBounds({999999999999999999, 100}, 5), Bounds(5, 5));
}

TEST(PagedJsonList, AnswersThePageWithItsHeaders) {
  ApiRequest request;
  request.path = "/api/v4/projects";
  request.query = {{"per_page", "2"}, {"page", "2"}};
  ApiReply r = PagedJsonList(request, "http://h", 5,
                             [](JsonWriter& w, size_t i) { w.Int64(static_cast<int64_t>(i)); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "[2,3]\n");
  EXPECT_EQ(Headers(r.headers)["X-Next-Page"], "3");
  request.query = {{"page", "x"}};
  EXPECT_EQ(PagedJsonList(request, "http://h", 5, [](JsonWriter&, size_t) {}).status, 400);
}

ListedPipeline Listed(int64_t id, const std::string& ref, PipelineStatus status,
                      const std::string& source = "trigger", bool tag = false, int updated = 0) {
  ListedPipeline p;
  p.pipeline.id = id;
  p.pipeline.ref = ref;
  p.pipeline.source = source;
  p.pipeline.tag = tag;
  p.pipeline.updated_at = TimePoint{} + std::chrono::seconds(updated);
  p.status = status;
  return p;
}

std::vector<int64_t> Ids(const std::vector<ListedPipeline>& list) {
  std::vector<int64_t> ids;
  for (const ListedPipeline& p : list) ids.push_back(p.pipeline.id);
  return ids;
}

std::vector<int64_t> Select(std::map<std::string, std::string> query) {
  PipelineListFilterResult f = ReadPipelineListFilter(query);
  EXPECT_FALSE(f.error) << f.error->body;
  return Ids(
      SelectPipelines({Listed(1, "main", PipelineStatus::kSuccess, "trigger", false, 50),
                       Listed(2, "release/1.2", PipelineStatus::kFailed, "pipeline", false, 10),
                       Listed(3, "main", PipelineStatus::kRunning, "trigger", false, 30),
                       Listed(4, "v1.0", PipelineStatus::kSuccess, "trigger", true, 20)},
                      f.filter));
}

TEST(SelectPipelines, FiltersAndOrdersAsGitLab) {
  EXPECT_EQ(Select({}), (std::vector<int64_t>{4, 3, 2, 1}));
  EXPECT_EQ(Select({{"sort", "asc"}}), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Select({{"ref", "main"}}), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Select({{"status", "success"}}), (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(Select({{"source", "pipeline"}}), (std::vector<int64_t>{2}));
  EXPECT_EQ(Select({{"scope", "tags"}}), (std::vector<int64_t>{4}));
  EXPECT_EQ(Select({{"scope", "finished"}}), (std::vector<int64_t>{4, 2, 1}));
  EXPECT_EQ(Select({{"scope", "running"}}), (std::vector<int64_t>{3}));
  EXPECT_EQ(Select({{"order_by", "updated_at"}}), (std::vector<int64_t>{1, 3, 4, 2}));
  EXPECT_EQ(Select({{"order_by", "updated_at"}, {"sort", "asc"}}),
            (std::vector<int64_t>{2, 4, 3, 1}));
  // Ties keep id order in the sort's direction.
  EXPECT_EQ(Select({{"order_by", "ref"}, {"sort", "asc"}}), (std::vector<int64_t>{1, 3, 2, 4}));
  EXPECT_EQ(Select({{"order_by", "status"}, {"sort", "asc"}}), (std::vector<int64_t>{2, 3, 1, 4}));
  EXPECT_EQ(Select({{"ref", "main"}, {"status", "running"}, {"order_by", "id"}}),
            (std::vector<int64_t>{3}));
}

TEST(ReadPipelineListFilter, RefusesValuesGitLabDoesNotKnow) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"status", "done"},
                                                        {"order_by", "name"},
                                                        {"sort", "up"},
                                                        {"source", "cron"},
                                                        {"scope", "all"}}) {
    PipelineListFilterResult f = ReadPipelineListFilter({{key, value}});
    ASSERT_TRUE(f.error) << key;
    EXPECT_EQ(f.error->status, 400);
    EXPECT_EQ(f.error->body, "{\"error\":\"" + key + " does not have a valid value\"}\n");
  }
}

TEST(ReadJobScopes, OneValueBracketsOrCommas) {
  EXPECT_EQ(ReadJobScopes({{"scope", "success"}}).scopes, (std::set<std::string>{"success"}));
  EXPECT_EQ(ReadJobScopes({{"scope[]", "manual"}}).scopes, (std::set<std::string>{"manual"}));
  EXPECT_EQ(ReadJobScopes({{"scope", "failed,canceled"}}).scopes,
            (std::set<std::string>{"failed", "canceled"}));
  EXPECT_TRUE(ReadJobScopes({}).scopes.empty());
  auto bad = ReadJobScopes({{"scope[]", "done"}});
  ASSERT_TRUE(bad.error);
  EXPECT_EQ(bad.error->status, 400);
}

Config ProjectsConfig() {
  Config c;
  c.gateway.public_url = "https://sluice.example/";
  ClientConfig dev;
  dev.name = "dev";
  dev.admin = true;
  c.clients.push_back(dev);
  ProjectConfig nine = IssueProject();
  nine.branches = {"release/*", "main"};
  nine.members["dev"] = ProjectRole::kDeveloper;
  ProjectConfig other = IssueProject();
  other.id = 4;
  other.path = "ops/deep/tools";
  other.members["dev"] = ProjectRole::kMaintainer;
  ProjectConfig hidden = IssueProject();
  hidden.id = 7;
  hidden.path = "secret/thing";
  c.projects = {nine, hidden, other};
  return c;
}

TEST(MemberProjects, OnlyTheClientsByIdWithTheirRole) {
  Config c = ProjectsConfig();
  std::vector<const ProjectConfig*> mine = MemberProjects(c, "dev");
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0]->id, 4);
  EXPECT_EQ(mine[1]->id, 9);
  EXPECT_TRUE(MemberProjects(c, "nobody").empty());
}

TEST(GitLabProjectJson, TheFieldsPythonGitLabAndUsersRead) {
  Config c = ProjectsConfig();
  rapidjson::Document d;
  d.Parse(GitLabProjectJson(c, c.projects[0], ProjectRole::kDeveloper).c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["id"].GetInt64(), 9);
  EXPECT_STREQ(d["name"].GetString(), "project");
  EXPECT_STREQ(d["path"].GetString(), "project");
  EXPECT_STREQ(d["path_with_namespace"].GetString(), "group/project");
  EXPECT_STREQ(d["name_with_namespace"].GetString(), "group / project");
  EXPECT_STREQ(d["default_branch"].GetString(), "main");  // the first that is not a glob
  EXPECT_STREQ(d["web_url"].GetString(), "https://sluice.example/group/project");
  EXPECT_STREQ(d["namespace"]["full_path"].GetString(), "group");
  EXPECT_STREQ(d["namespace"]["kind"].GetString(), "group");
  EXPECT_TRUE(d["created_at"].IsNull());
  EXPECT_EQ(d["permissions"]["project_access"]["access_level"].GetInt(), 30);
  EXPECT_STREQ(d["_links"]["self"].GetString(), "https://sluice.example/api/v4/projects/9");

  d.Parse(GitLabProjectJson(c, c.projects[2], ProjectRole::kMaintainer).c_str());
  EXPECT_STREQ(d["name"].GetString(), "tools");
  EXPECT_STREQ(d["name_with_namespace"].GetString(), "ops / deep / tools");
  EXPECT_STREQ(d["namespace"]["full_path"].GetString(), "ops/deep");
  EXPECT_STREQ(d["namespace"]["path"].GetString(), "deep");
  EXPECT_TRUE(d["default_branch"].IsNull());  // no branches configured
  EXPECT_EQ(d["permissions"]["project_access"]["access_level"].GetInt(), 40);
}

TEST(GitLabCurrentUserJson, NamesTheClientAndItsWebUrlUnderThePublicUrl) {
  Config c = ProjectsConfig();
  rapidjson::Document d;
  d.Parse(GitLabCurrentUserJson(c, c.clients[0]).c_str());
  EXPECT_STREQ(d["username"].GetString(), "dev");
  EXPECT_STREQ(d["name"].GetString(), "dev");
  EXPECT_EQ(d["id"].GetInt64(), GitLabUserId("dev"));
  EXPECT_STREQ(d["web_url"].GetString(), "https://sluice.example/dev");
  EXPECT_TRUE(d["is_admin"].GetBool());
  d.Parse(GitLabVersionJson().c_str());
  EXPECT_TRUE(d["version"].IsString());
  EXPECT_TRUE(d["revision"].IsString());
}

TEST(ProjectsReply, TheClientsProjectsPaginated) {
  Config c = ProjectsConfig();
  ApiRequest request;
  request.path = "/api/v4/projects";
  request.query = {{"membership", "true"}, {"per_page", "1"}};
  ApiReply r = ProjectsReply(c, request, c.clients[0]);
  EXPECT_EQ(r.status, 200);
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsArray());
  ASSERT_EQ(d.Size(), 1u);
  EXPECT_EQ(d[0]["id"].GetInt64(), 4);
  auto h = Headers(r.headers);
  EXPECT_EQ(h["X-Total"], "2");
  EXPECT_EQ(h["X-Next-Page"], "2");
  EXPECT_NE(h["Link"].find("<https://sluice.example/api/v4/projects?membership=true&page=2&"
                           "per_page=1>; rel=\"next\""),
            std::string::npos)
      << h["Link"];
  ClientConfig outsider;
  outsider.name = "outsider";
  EXPECT_EQ(ProjectsReply(c, request, outsider).body, "[]\n");
}

TEST(ShownTriggerToken, WholeForItsOwnerOnlyAndOnlyWhenItOpens) {
  const std::string key(kSealKeyBytes, '\x07');
  const std::string token = "glptt-0123456789abcdef0123456789abcdef01234567";
  TriggerToken t;
  t.id = 17;
  t.project_id = 9;
  t.owner = "dev";
  t.short_token = "0123";
  t.sealed_token = Seal(key, token, TriggerTokenKey(9, 17));
  EXPECT_EQ(ShownTriggerToken(t, "dev", key), token);
  EXPECT_EQ(ShownTriggerToken(t, "ops", key), "0123");
  EXPECT_EQ(ShownTriggerToken(t, "dev", ""), "0123");                                  // no key
  EXPECT_EQ(ShownTriggerToken(t, "dev", std::string(kSealKeyBytes, '\x08')), "0123");  // rotated
  TriggerToken moved = t;
  moved.id = 18;  // a sealed token copied to another record does not open there
  EXPECT_EQ(ShownTriggerToken(moved, "dev", key), "0123");
  // The record keeps the sealed token across the topic.
  auto decoded = DecodeTriggerToken(EncodeTriggerToken([&] {
    TriggerToken full = t;
    full.token_sha256 = Sha256Hex(token);
    return full;
  }()));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->sealed_token, t.sealed_token);
}

TEST(GitLabConfig, TheTriggerTokenKeyIs64HexDigitsFromEnvOrFile) {
  setenv("SLUICE_TEST_TRIGGER_KEY", std::string(64, 'a').c_str(), 1);
  auto ok = LoadConfigText(
      "gitlab: {trigger_token_key: {token_env: SLUICE_TEST_TRIGGER_KEY}}\n"
      "jobs: [{name: j, type: periodic, command: [\"true\"]}]\n");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->gitlab.trigger_token_key, std::string(32, '\xaa'));
  EXPECT_EQ(ok->gitlab.trigger_token_key_source, "token_env SLUICE_TEST_TRIGGER_KEY");
  auto none = LoadConfigText("jobs: [{name: j, type: periodic, command: [\"true\"]}]\n");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->gitlab.trigger_token_key.empty());
  setenv("SLUICE_TEST_TRIGGER_KEY", "too-short", 1);
  auto bad = LoadConfigText(
      "gitlab: {trigger_token_key: {token_env: SLUICE_TEST_TRIGGER_KEY}}\n"
      "jobs: [{name: j, type: periodic, command: [\"true\"]}]\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("gitlab.trigger_token_key: the key must be 64 hex digits"),
            std::string::npos)
      << bad.status().message();
  auto both = LoadConfigText(
      "gitlab: {trigger_token_key: {token_env: A, token_file: /x}}\n"
      "jobs: [{name: j, type: periodic, command: [\"true\"]}]\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("give exactly one of token_env or token_file"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice
