#pragma once

// Small helpers shared by the integration tests: reading the executions API's JSON answers and
// checking the contract's error shape. Everything here goes through the real HTTP API.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {

// The string member `name` of a JSON object ("" when absent or not a string).
inline std::string StringField(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return "";
  auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return "";
  return it->value.GetString();
}

inline std::string StringField(const HttpResponse& r, const char* name) {
  return StringField(r.Json(), name);
}

inline bool HasField(const rapidjson::Value& object, const char* name) {
  return object.IsObject() && object.HasMember(name);
}

// The header's value ("" when absent). Names are lower-case.
inline std::string Header(const HttpResponse& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}

// gRPC canonical codes the contract names.
inline constexpr int kInvalidArgumentCode = 3;
inline constexpr int kNotFoundCode = 5;
inline constexpr int kPermissionDeniedCode = 7;
inline constexpr int kResourceExhaustedCode = 8;
inline constexpr int kFailedPreconditionCode = 9;
inline constexpr int kUnavailableCode = 14;
inline constexpr int kUnauthenticatedCode = 16;

// The contract's error body: {"code": <int>, "message": <non-empty string>, "details": []}.
inline void ExpectErrorBody(const HttpResponse& r, int http_status, int code) {
  EXPECT_EQ(r.status, http_status) << r.body << r.error;
  rapidjson::Document doc = r.Json();
  ASSERT_TRUE(doc.IsObject()) << "error body is not a JSON object: " << r.body;
  ASSERT_TRUE(doc.HasMember("code") && doc["code"].IsInt()) << r.body;
  EXPECT_EQ(doc["code"].GetInt(), code) << r.body;
  ASSERT_TRUE(doc.HasMember("message") && doc["message"].IsString()) << r.body;
  EXPECT_GT(doc["message"].GetStringLength(), 0u) << r.body;
  ASSERT_TRUE(doc.HasMember("details") && doc["details"].IsArray()) << r.body;
  EXPECT_EQ(doc["details"].Size(), 0u) << r.body;
  EXPECT_EQ(doc.MemberCount(), 3u) << "unexpected members in " << r.body;
  EXPECT_NE(Header(r, "content-type").find("application/json"), std::string::npos)
      << Header(r, "content-type");
}

inline std::string ExecutionUrl(const SluiceProcess& gateway, const std::string& id) {
  return gateway.url() + "/v1/executions/" + id;
}

inline HttpResponse PostExecution(HttpClient& http, const SluiceProcess& gateway,
                                  const std::string& body,
                                  const std::vector<std::string>& headers = {},
                                  const std::string& token = kAliceToken) {
  return http.Post(gateway.url() + "/v1/executions", token, body, headers);
}

inline std::string PeriodicBody(const std::string& job) {
  return "{\"job_name\": \"" + job + "\", \"job_execution_type\": \"PERIODIC\"}";
}

// The execution as GET /v1/executions/{id} answers it (a null document when not 200).
inline rapidjson::Document GetExecution(HttpClient& http, const SluiceProcess& gateway,
                                        const std::string& id,
                                        const std::string& token = kAliceToken) {
  HttpResponse r = http.Get(ExecutionUrl(gateway, id), token);
  if (r.status != 200) return rapidjson::Document();
  return r.Json();
}

inline std::string LogOf(HttpClient& http, const SluiceProcess& gateway, const std::string& id,
                         const std::string& token = kAliceToken) {
  HttpResponse r = http.Get(ExecutionUrl(gateway, id) + "/log", token);
  EXPECT_EQ(r.status, 200) << r.body << r.error;
  return r.body;
}

// Waits until the execution's status is `status`; returns whether it got there.
inline bool WaitForStatus(HttpClient& http, const SluiceProcess& gateway, const std::string& id,
                          const std::string& status,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  return WaitFor([&] { return StatusOf(http, gateway, id) == status; }, timeout);
}

// Waits until the execution's log contains `text`.
inline bool WaitForLog(HttpClient& http, const SluiceProcess& gateway, const std::string& id,
                       const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  return WaitFor(
      [&] {
        HttpResponse r = http.Get(ExecutionUrl(gateway, id) + "/log", kAliceToken);
        return r.status == 200 && r.body.find(text) != std::string::npos;
      },
      timeout);
}

inline int CountOccurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

inline std::string ReadFileText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The worker ids named by the "[sluice] attempt N of JOB (ID) on worker W" lines of a log.
inline std::vector<std::string> WorkersInLog(const std::string& log) {
  static const std::regex kAttempt(R"(\[sluice\] attempt \d+ of \S+ \(\S+\) on worker (\S+))");
  std::vector<std::string> workers;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kAttempt);
       it != std::sregex_iterator(); ++it) {
    workers.push_back((*it)[1].str());
  }
  return workers;
}

// The ids of a list answer's job_execution array, in order.
inline std::vector<std::string> ListedIds(const HttpResponse& r) {
  std::vector<std::string> ids;
  rapidjson::Document doc = r.Json();
  if (!doc.IsObject() || !doc.HasMember("job_execution") || !doc["job_execution"].IsArray()) {
    ADD_FAILURE() << "not a list answer: " << r.body;
    return ids;
  }
  for (const auto& e : doc["job_execution"].GetArray()) ids.push_back(StringField(e, "id"));
  return ids;
}

}  // namespace sluice::testing
