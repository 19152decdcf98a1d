#include "tests/integration/harness/load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A slot more than this late is skipped instead of sent (no bursts after a slow spell).
constexpr auto kMaxLateness = std::chrono::seconds(1);

std::string StringMember(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return "";
  auto it = v.FindMember(name);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace

TriggerLoad::TriggerLoad(TriggerLoadOptions options) : options_(std::move(options)) {}

TriggerLoad::~TriggerLoad() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void TriggerLoad::Start() {
  start_ = Clock::now();
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { Send(i); });
}

std::vector<TriggerOutcome> TriggerLoad::Wait() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TriggerOutcome> out = outcomes_;
  std::sort(out.begin(), out.end(), [](const TriggerOutcome& a, const TriggerOutcome& b) {
    return a.sequence < b.sequence;
  });
  return out;
}

void TriggerLoad::Send(int /*thread_index*/) {
  HttpClient http;
  const auto period = std::chrono::duration<double>(1.0 / options_.requests_per_second);
  const auto end = start_ + options_.duration;
  const std::vector<std::string> headers = {"Authorization: Bearer " + options_.token,
                                            "Content-Type: application/json"};
  while (true) {
    size_t slot = next_slot_.fetch_add(1);
    auto due = start_ + std::chrono::duration_cast<Clock::duration>(period * slot);
    if (due >= end) return;
    auto now = Clock::now();
    if (now - due > kMaxLateness) continue;
    std::this_thread::sleep_until(due);  // pacing, not synchronisation

    TriggerOutcome o;
    o.sequence = slot;
    o.gateway_url = options_.gateway_urls[slot % options_.gateway_urls.size()];
    o.body_index = slot % options_.bodies.size();
    o.sent_at = Clock::now();
    HttpResponse r = http.Request("POST", o.gateway_url + "/v1/executions", headers,
                                  options_.bodies[o.body_index], true);
    o.latency = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - o.sent_at);
    o.status = r.status;
    o.retry_after = r.headers.count("retry-after") > 0;
    if (r.status == 200) {
      o.execution_id = StringMember(r.Json(), "id");
    } else {
      o.detail = r.status == 0 ? r.error : r.body.substr(0, 300);
    }
    answered_.fetch_add(1);
    if (!o.execution_id.empty()) accepted_.fetch_add(1);
    std::lock_guard<std::mutex> lock(mutex_);
    outcomes_.push_back(std::move(o));
  }
}

std::string PeriodicTriggerBody(const std::string& job) {
  return "{\"job_name\": \"" + job + "\", \"job_execution_type\": \"PERIODIC\"}";
}

std::string CountedCommand(const std::string& runs_log, double seconds) {
  // bash for $EPOCHREALTIME (no fork of date); ${HOME##*-} is the attempt; $PPID the worker.
  std::ostringstream sleep_for;
  sleep_for << seconds;
  std::string fields = "$SLUICE_EXECUTION_ID ${HOME##*-} $PPID $$ $EPOCHREALTIME";
  return "[bash, -c, 'echo \"start " + fields + "\" >> " + runs_log + "; sleep " + sleep_for.str() +
         "; echo \"end " + fields + "\" >> " + runs_log + "']";
}

std::string CountedJob(const std::string& runs_log, double seconds) {
  return "executor: process, command: " + CountedCommand(runs_log, seconds);
}

std::map<std::string, std::vector<JobRunRecord>> ReadRuns(const std::string& runs_log) {
  std::map<std::string, std::vector<JobRunRecord>> runs;
  // Ends are matched to starts by (id, shell pid): a pid is not reused within one test.
  std::map<std::pair<std::string, long>, double> ends;
  std::ifstream in(runs_log);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind, id;
    JobRunRecord r;
    double time = 0;
    if (!(fields >> kind >> id >> r.attempt >> r.worker_pid >> r.shell_pid >> time)) {
      ADD_FAILURE() << "unreadable line in " << runs_log << ": " << line;
      continue;
    }
    if (kind == "start") {
      r.start = time;
      runs[id].push_back(r);
    } else {
      ends[{id, r.shell_pid}] = time;
    }
  }
  for (auto& [id, list] : runs) {
    for (JobRunRecord& r : list) {
      auto it = ends.find({id, r.shell_pid});
      if (it != ends.end()) r.end = it->second;
    }
    std::sort(list.begin(), list.end(),
              [](const JobRunRecord& a, const JobRunRecord& b) { return a.start < b.start; });
  }
  return runs;
}

bool RunsOverlap(const std::vector<JobRunRecord>& runs,
                 const std::map<long, double>& killed_worker_pids) {
  auto end_of = [&](const JobRunRecord& r) -> double {
    if (r.end) return *r.end;
    auto killed = killed_worker_pids.find(r.worker_pid);
    if (killed != killed_worker_pids.end()) return killed->second;
    return 1e300;  // still running, as far as anyone knows
  };
  for (size_t i = 0; i < runs.size(); ++i) {
    for (size_t j = i + 1; j < runs.size(); ++j) {
      // runs are in start order: j started at or after i
      if (runs[j].start < end_of(runs[i])) return true;
    }
  }
  return false;
}

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::map<std::string, std::string> ListStatuses(HttpClient& http, const std::string& gateway_url,
                                                const std::string& status) {
  std::map<std::string, std::string> out;
  std::string token;
  for (int page = 0; page < 1000; ++page) {
    std::string url = gateway_url + "/v1/executions?page_size=500";
    if (!status.empty()) url += "&status=" + status;
    if (!token.empty()) url += "&page_token=" + token;
    HttpResponse r = http.Get(url, kAliceToken);
    if (r.status != 200) return {};
    rapidjson::Document doc = r.Json();
    if (!doc.IsObject() || !doc.HasMember("job_execution") || !doc["job_execution"].IsArray()) {
      return {};
    }
    for (const auto& e : doc["job_execution"].GetArray()) {
      out[StringMember(e, "id")] = StringMember(e, "job_status");
    }
    token = StringMember(doc, "next_page_token");
    if (token.empty()) break;
  }
  return out;
}

bool IsTerminalStatus(const std::string& s) {
  return s == "SUCCESS" || s == "FAILURE" || s == "ABORTED" || s == "ERROR";
}

std::map<std::string, std::string> WaitUntilEnded(HttpClient& http, const std::string& gateway_url,
                                                  const std::set<std::string>& ids,
                                                  std::chrono::milliseconds timeout) {
  // While waiting, only the unfinished executions are listed (cheap once most have ended); an
  // id that is not listed at all is caught by the full listing at the end.
  WaitFor(
      [&] {
        HttpResponse ready = http.Get(gateway_url + "/readyz", "");
        if (ready.status != 200) return false;
        for (const char* open : {"TRIGGERED", "PENDING"}) {
          for (const auto& [id, status] : ListStatuses(http, gateway_url, open)) {
            if (ids.count(id)) return false;
          }
        }
        std::map<std::string, std::string> all = ListStatuses(http, gateway_url);
        for (const std::string& id : ids) {
          auto it = all.find(id);
          if (it == all.end() || !IsTerminalStatus(it->second)) return false;
        }
        return true;
      },
      timeout);
  std::map<std::string, std::string> all = ListStatuses(http, gateway_url);
  std::map<std::string, std::string> out;
  for (const std::string& id : ids) {
    auto it = all.find(id);
    out[id] = it == all.end() ? "" : it->second;
  }
  return out;
}

bool WaitUntilReady(HttpClient& http, const SluiceProcess& gateway,
                    std::chrono::milliseconds timeout) {
  return WaitFor([&] { return http.Get(gateway.url() + "/readyz", "").status == 200; }, timeout);
}

bool WaitUntilAssigned(const std::vector<SluiceProcess*>& workers,
                       std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        for (SluiceProcess* w : workers) {
          if (w->Log().find("assigned") == std::string::npos) return false;
        }
        return true;
      },
      timeout);
}

std::string LogTails(const std::vector<SluiceProcess*>& processes, size_t max_chars) {
  std::string out;
  for (SluiceProcess* p : processes) {
    // Without the routine lines of every run, which would hide everything else.
    std::istringstream lines(p->Log());
    std::string log, line;
    while (std::getline(lines, line)) {
      bool routine = line.find(" INFO worker: running ") != std::string::npos ||
                     (line.find(" INFO worker: ") != std::string::npos && line.size() > 8 &&
                      line.compare(line.size() - 8, 8, " SUCCESS") == 0);
      if (!routine) log += line + "\n";
    }
    if (log.size() > max_chars) log = "..." + log.substr(log.size() - max_chars);
    out += "--- process " + std::to_string(p->pid()) + " ---\n" + log + "\n";
  }
  return out;
}

std::string LinesMentioning(const std::vector<SluiceProcess*>& processes,
                            const std::set<std::string>& ids) {
  std::string out;
  for (SluiceProcess* p : processes) {
    std::istringstream lines(p->Log());
    std::string line;
    while (std::getline(lines, line)) {
      for (const std::string& id : ids) {
        if (line.find(id) != std::string::npos) {
          out += std::to_string(p->pid()) + ": " + line + "\n";
          break;
        }
      }
    }
  }
  return out;
}

void StopAtOnce(KafkaCluster& cluster) {
  if (!cluster.ok()) return;
  for (int i = 1; i <= cluster.brokers(); ++i) cluster.Kill(i);
}

std::set<std::string> AcceptedIds(const std::vector<TriggerOutcome>& outcomes) {
  std::set<std::string> ids;
  for (const TriggerOutcome& o : outcomes) {
    if (!o.execution_id.empty()) ids.insert(o.execution_id);
  }
  return ids;
}

FaultFigures Tally(const std::vector<TriggerOutcome>& outcomes,
                   const std::map<std::string, std::vector<JobRunRecord>>& runs,
                   const std::map<std::string, std::string>& final_statuses,
                   const std::map<long, double>& killed_worker_pids) {
  FaultFigures f;
  std::vector<long> accepted_ms;
  for (const TriggerOutcome& o : outcomes) {
    ++f.sent;
    if (o.status == 200 && !o.execution_id.empty()) {
      accepted_ms.push_back(o.latency.count());
    } else if (o.status == 503) {
      ++f.refused_503;
      if (!o.retry_after) ++f.refused_without_retry_after;
      f.max_refusal_ms = std::max<long>(f.max_refusal_ms, o.latency.count());
    } else if (o.status == 0) {
      ++f.transport_errors;
    } else {
      ++f.other_errors;
    }
  }
  std::set<std::string> accepted = AcceptedIds(outcomes);
  f.accepted = static_cast<int>(accepted.size());
  if (!accepted_ms.empty()) {
    std::sort(accepted_ms.begin(), accepted_ms.end());
    f.p99_accepted_ms =
        accepted_ms[std::min(accepted_ms.size() - 1, accepted_ms.size() * 99 / 100)];
  }
  for (const std::string& id : accepted) {
    auto it = runs.find(id);
    size_t n = it == runs.end() ? 0 : it->second.size();
    if (n >= 1) ++f.ran;
    if (n >= 2) ++f.ran_twice;
    auto status = final_statuses.find(id);
    std::string s = status == final_statuses.end() ? "" : status->second;
    if (!IsTerminalStatus(s)) {
      ++f.stuck;
    } else if (s != "SUCCESS") {
      ++f.not_success;
    }
  }
  for (const auto& [id, list] : runs) {
    if (!accepted.count(id)) ++f.ran_unconfirmed;
    if (!RunsOverlap(list, killed_worker_pids)) continue;
    ++f.overlapping;
    if (f.overlapping_ids.size() >= 5) continue;
    f.overlapping_ids.insert(id);
    std::ostringstream d;
    d.precision(16);
    d << id << (accepted.count(id) ? "" : " (not accepted)") << ":";
    for (const JobRunRecord& r : list) {
      d << " [attempt " << r.attempt << ", worker pid " << r.worker_pid << ", " << r.start
        << " .. ";
      if (r.end) {
        d << *r.end;
      } else {
        d << "no end";
      }
      d << "]";
    }
    f.overlap_details += d.str() + "\n";
  }
  return f;
}

void PrintFigures(const std::string& scenario, const FaultFigures& f) {
  std::printf(
      "[faults] %s: sent=%d accepted=%d refused_503=%d refused_503_without_retry_after=%d "
      "other_errors=%d transport_errors=%d ran=%d ran_twice=%d stuck=%d overlapping=%d "
      "not_success=%d ran_unconfirmed=%d p99_accepted_ms=%ld max_refusal_ms=%ld\n",
      scenario.c_str(), f.sent, f.accepted, f.refused_503, f.refused_without_retry_after,
      f.other_errors, f.transport_errors, f.ran, f.ran_twice, f.stuck, f.overlapping, f.not_success,
      f.ran_unconfirmed, f.p99_accepted_ms, f.max_refusal_ms);
  std::fflush(stdout);
}

::testing::AssertionResult CountedJobScene::Ready() {
  if (!cluster_.ok()) return ::testing::AssertionFailure() << "the Kafka cluster did not start";
  deployment_ = std::make_unique<Deployment>(
      "  - {name: counted, type: periodic, " + CountedJob(runs_log_, 0.2) + "}\n",
      "  max_concurrency: 12\n" + worker_yaml_, gateway_yaml_, "", &cluster_);
  gateway_ = &deployment_->StartGateway();
  workers_ = {&deployment_->StartWorker(), &deployment_->StartWorker()};
  if (!WaitUntilReady(http_, *gateway_)) return ::testing::AssertionFailure() << gateway_->Log();
  if (!WaitUntilAssigned(workers_)) return ::testing::AssertionFailure() << LogTails(workers_);
  return ::testing::AssertionSuccess();
}

}  // namespace sluice::testing
