#include "gateway/auth.h"

#include <gtest/gtest.h>

#include <string>

#include "common/crypto.h"

namespace sluice {
namespace {

ClientConfig Client(std::string name, std::string_view token, std::vector<std::string> allow_jobs) {
  ClientConfig client;
  client.name = std::move(name);
  client.token_sha256 = Sha256Hex(token);
  client.allow_jobs = std::move(allow_jobs);
  return client;
}

JobConfig Job(std::string name) {
  JobConfig job;
  job.name = std::move(name);
  return job;
}

Config TestConfig() {
  Config config;
  config.clients.push_back(Client("ci", "ci-token-1234", {"nightly-*", "images"}));
  config.clients.push_back(Client("release", "release-token-5678", {"*"}));
  config.clients.push_back(Client("nobody", "nobody-token-9012", {}));
  config.jobs.push_back(Job("nightly-e2e"));
  config.jobs.push_back(Job("images"));
  config.jobs.push_back(Job("secret-job"));
  return config;
}

TEST(AuthenticateTest, RejectsMissingMalformedAndUnknownTokensWithoutEchoingThem) {
  const Config config = TestConfig();
  struct Case {
    std::string header;
    std::string message;
  };
  const Case cases[] = {
      {"", "missing Authorization header"},
      {"   \t ", "missing Authorization header"},
      {"Basic Y2ktdG9rZW4tMTIzNA==", "malformed Authorization header"},
      {"Token ci-token-1234", "malformed Authorization header"},
      {"Bearer", "malformed Authorization header"},
      {"Bearer    ", "malformed Authorization header"},
      {"Bearer ci-token-1234 extra", "malformed Authorization header"},
      {"Bearerci-token-1234", "malformed Authorization header"},
      {"ci-token-1234", "malformed Authorization header"},
      {"Bearer wrong-token-0000", "invalid bearer token"},
      {"Bearer CI-TOKEN-1234", "invalid bearer token"},  // tokens are case-sensitive
      {"Bearer ci-token-123", "invalid bearer token"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("header: " + c.header);
    StatusOr<const ClientConfig*> result = Authenticate(config, c.header);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), Code::kUnauthenticated);
    EXPECT_EQ(result.status().http_status(), 401);
    EXPECT_NE(result.status().message().find(c.message), std::string::npos)
        << result.status().message();
    for (std::string_view secret : {"ci-token", "CI-TOKEN", "wrong-token", "Y2ktdG9r"}) {
      EXPECT_EQ(result.status().message().find(secret), std::string::npos)
          << "message echoes the token: " << result.status().message();
    }
  }
}

TEST(AuthenticateTest, FindsTheClientWhoseTokenHashMatches) {
  const Config config = TestConfig();
  struct Case {
    std::string header;
    size_t client_index;
  };
  const Case cases[] = {
      {"Bearer ci-token-1234", 0},           {"bearer ci-token-1234", 0},
      {"BEARER ci-token-1234", 0},           {"  Bearer   ci-token-1234  ", 0},
      {"\tBearer\trelease-token-5678\t", 1}, {"Bearer nobody-token-9012", 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("header: " + c.header);
    StatusOr<const ClientConfig*> result = Authenticate(config, c.header);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_EQ(*result, &config.clients[c.client_index]);
  }
}

TEST(AuthenticateTest, NoClientsMeansEveryTokenIsUnknown) {
  Config config;
  StatusOr<const ClientConfig*> result = Authenticate(config, "Bearer anything");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnauthenticated);
}

TEST(GlobMatchTest, Table) {
  struct Case {
    const char* pattern;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {"", "", true},
      {"", "a", false},
      {"a", "", false},
      {"*", "", true},
      {"*", "anything-at-all", true},
      {"**", "x", true},
      {"images", "images", true},
      {"images", "images2", false},
      {"images", "image", false},
      {"Images", "images", false},
      {"nightly-*", "nightly-", true},
      {"nightly-*", "nightly-e2e", true},
      {"nightly-*", "weekly-e2e", false},
      {"*-e2e", "nightly-e2e", true},
      {"*-e2e", "nightly-e2e-aws", false},
      {"nightly-*-aws", "nightly-4.18-aws", true},
      {"nightly-*-aws", "nightly-4.18-gcp", false},
      {"a*b*c", "aXbYc", true},
      {"a*b*c", "abc", true},
      {"a*b*c", "acb", false},
      {"a*a", "a", false},
      {"a*a", "aa", true},
      {"*a", "aaa", true},
      {"*ab*ab", "xabyabab", true},
      {"*ab*ab", "xabyaba", false},
      {"a?c", "abc", false},  // '?' is not a metacharacter
      {"a?c", "a?c", true},
      {"[ab]", "a", false},  // neither are brackets
      {"[ab]", "[ab]", true},
      {"job.*", "jobX", false},  // nor '.'
  };
  for (const Case& c : cases) {
    EXPECT_EQ(GlobMatch(c.pattern, c.text), c.match)
        << "pattern \"" << c.pattern << "\" text \"" << c.text << "\"";
  }
}

TEST(ClientMayUseJobTest, AnyAllowJobsPatternGrantsTheJob) {
  const Config config = TestConfig();
  const ClientConfig& ci = config.clients[0];
  EXPECT_TRUE(ClientMayUseJob(ci, "nightly-e2e"));
  EXPECT_TRUE(ClientMayUseJob(ci, "images"));
  EXPECT_FALSE(ClientMayUseJob(ci, "images-extra"));
  EXPECT_FALSE(ClientMayUseJob(ci, "secret-job"));
  EXPECT_TRUE(ClientMayUseJob(config.clients[1], "secret-job"));
  EXPECT_FALSE(ClientMayUseJob(config.clients[2], "images"));  // empty allow_jobs
}

TEST(AuthorizeJobTest, PermissionIsCheckedBeforeExistence) {
  const Config config = TestConfig();
  struct Case {
    size_t client_index;
    std::string job;
    Code code;
    int http_status;
    std::string message;
  };
  const Case cases[] = {
      {0, "secret-job", Code::kPermissionDenied, 403,
       "client \"ci\" may not trigger job \"secret-job\""},
      // Neither allowed nor existing: 403, so a client cannot probe for job names it may not use.
      {0, "no-such-job", Code::kPermissionDenied, 403,
       "client \"ci\" may not trigger job \"no-such-job\""},
      {2, "images", Code::kPermissionDenied, 403,
       "client \"nobody\" may not trigger job \"images\""},
      // Allowed by a pattern but not configured: 404.
      {0, "nightly-missing", Code::kNotFound, 404, "no job named \"nightly-missing\""},
      {1, "no-such-job", Code::kNotFound, 404, "no job named \"no-such-job\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("client " + config.clients[c.client_index].name + ", job " + c.job);
    StatusOr<const JobConfig*> result = AuthorizeJob(config, config.clients[c.client_index], c.job);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), c.code);
    EXPECT_EQ(result.status().http_status(), c.http_status);
    EXPECT_NE(result.status().message().find(c.message), std::string::npos)
        << result.status().message();
  }
}

TEST(AuthorizeJobTest, ReturnsTheConfiguredJob) {
  const Config config = TestConfig();
  StatusOr<const JobConfig*> images = AuthorizeJob(config, config.clients[0], "images");
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  EXPECT_EQ(*images, &config.jobs[1]);
  StatusOr<const JobConfig*> nightly = AuthorizeJob(config, config.clients[0], "nightly-e2e");
  ASSERT_TRUE(nightly.ok()) << nightly.status().ToString();
  EXPECT_EQ(*nightly, &config.jobs[0]);
  StatusOr<const JobConfig*> secret = AuthorizeJob(config, config.clients[1], "secret-job");
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(*secret, &config.jobs[2]);
}

}  // namespace
}  // namespace sluice
