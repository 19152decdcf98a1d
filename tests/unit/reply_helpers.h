#pragma once

// Helpers the unit tests of the gateway's routes share: reading an ApiReply's headers and JSON
// body, the Git hosts' payload fixtures (tests/fixtures/webhooks), and postsubmit jobs.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "gateway/api.h"
#include "gateway/gateway_service.h"

namespace sluice {

inline std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The value of the reply's header `name` (any case), if it has one.
inline std::optional<std::string> Header(const ApiReply& reply, const std::string& name) {
  for (const auto& [k, v] : reply.headers) {
    if (Lower(k) == Lower(name)) return v;
  }
  return std::nullopt;
}

inline rapidjson::Document Json(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str(), body.size());
  EXPECT_FALSE(doc.HasParseError()) << body;
  return doc;
}

// The string member `key` of `v`, or "<absent>".
inline std::string Str(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return "<absent>";
  return v[key].GetString();
}

// A Git host's payload from tests/fixtures/webhooks.
inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(SLUICE_FIXTURES_DIR) + "/webhooks/" + name, std::ios::binary);
  EXPECT_TRUE(in) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Hands the request to the service; the returned list fills as the service replies (possibly
// later, from a FakePublisher completion).
inline std::shared_ptr<std::vector<ApiReply>> Send(GatewayService& service,
                                                   const ApiRequest& request) {
  auto replies = std::make_shared<std::vector<ApiReply>>();
  service.Handle(request, [replies](ApiReply r) { replies->push_back(std::move(r)); });
  return replies;
}

// For calls answered without Kafka: exactly one reply, at once.
inline ApiReply Call(GatewayService& service, const ApiRequest& request) {
  auto replies = Send(service, request);
  EXPECT_EQ(replies->size(), 1u) << request.method << " " << request.path;
  return replies->empty() ? ApiReply{0, "", "", {}, {}} : replies->front();
}

// A webhook secret from the test, with an optional expiry.
inline WebhookSecret Secret(std::string value, std::optional<TimePoint> expires = std::nullopt) {
  WebhookSecret s;
  s.secret = std::move(value);
  s.expires = expires;
  s.source = "test";
  return s;
}

// A postsubmit job (command `true`) with the webhook matching rules.
inline JobConfig Postsubmit(std::string name, std::string repo, std::vector<std::string> branches,
                            std::vector<std::string> skip = {},
                            std::vector<std::string> tags = {}) {
  JobConfig j;
  j.name = std::move(name);
  j.type = JobType::kPostsubmit;
  j.command = {"true"};
  j.repo = std::move(repo);
  j.branches = std::move(branches);
  j.skip_branches = std::move(skip);
  j.tags = std::move(tags);
  return j;
}

}  // namespace sluice
