#pragma once

// Fakes for the command-line client's seams: a transport that answers from a script and records
// every call, and a timer whose time moves only when slept on.

#include <gtest/gtest.h>

#include <deque>
#include <sstream>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"

namespace sluice::cli::testing {

class FakeTransport final : public Transport {
 public:
  // Answers in order; once the script is exhausted, every call gets a transport error.
  void Answer(long status, std::string body, std::map<std::string, std::string> headers = {}) {
    HttpAnswer a;
    a.status = status;
    a.body = std::move(body);
    a.headers = std::move(headers);
    answers.push_back(std::move(a));
  }
  // A stream whose connection breaks after `body`.
  void AnswerBroken(std::string body) {
    Answer(200, std::move(body));
    answers.back().truncated = true;
    answers.back().error = "Transferred a partial file";
  }

  HttpAnswer Send(const HttpCall& call) override {
    calls.push_back(call);
    return Next();
  }
  HttpAnswer Stream(const HttpCall& call,
                    const std::function<void(std::string_view)>& on_body) override {
    calls.push_back(call);
    HttpAnswer a = Next();
    if (a.status >= 200 && a.status < 300) {
      on_body(a.body);
      a.body.clear();
    }
    return a;
  }

  // The value of header `name` in call `i` ("" when absent).
  std::string HeaderOf(size_t i, const std::string& name) const {
    for (const std::string& h : calls.at(i).headers) {
      if (h.rfind(name + ": ", 0) == 0) return h.substr(name.size() + 2);
    }
    return "";
  }

  std::vector<HttpCall> calls;
  std::deque<HttpAnswer> answers;

 private:
  HttpAnswer Next() {
    if (answers.empty()) {
      ADD_FAILURE() << "unexpected call " << calls.back().method << " " << calls.back().target;
      HttpAnswer a;
      a.error = "no more scripted answers";
      return a;
    }
    HttpAnswer a = std::move(answers.front());
    answers.pop_front();
    return a;
  }
};

class FakeTimer final : public Timer {
 public:
  std::chrono::steady_clock::time_point Now() override { return now; }
  void Sleep(Duration d) override {
    sleeps.push_back(d);
    now += d;
  }
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  std::vector<Duration> sleeps;
};

// An API over the fakes and output captured in strings.
struct ClientFixture {
  FakeTransport transport;
  FakeTimer timer;
  Api api{transport, timer};
  std::ostringstream out, err;
  Io io{out, err};
};

inline std::string ExecutionJson(const std::string& id, const std::string& status,
                                 const std::string& job = "hello") {
  return "{\"id\":\"" + id + "\",\"job_name\":\"" + job +
         "\",\"job_type\":\"PERIODIC\",\"job_status\":\"" + status +
         "\",\"pod_spec_options\":{\"envs\":{},\"labels\":{},\"annotations\":{}},"
         "\"create_time\":\"2026-11-23T10:00:00.123Z\",\"job_url\":\"http://x/v1/executions/" +
         id + "\"}";
}

}  // namespace sluice::cli::testing
