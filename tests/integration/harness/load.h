#pragma once

#include <gtest/gtest.h>

// A bounded, self-stopping load of triggers over HTTP, and the tally of what became of them,
// for the fault tests. Runs are counted from the outside: a counted job appends a line to a
// shared runs log when it starts and when it ends, so a run that the gateway never confirmed, a
// second run, or two runs at once are all visible whatever the statuses say.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness/harness.h"

namespace sluice::testing {

struct TriggerLoadOptions {
  std::vector<std::string> gateway_urls;  // requests go round-robin over these
  std::vector<std::string> bodies;        // POST /v1/executions bodies, round-robin
  std::string token = kAliceToken;
  int threads = 16;  // each with its own keep-alive connection
  double requests_per_second = 100;
  std::chrono::milliseconds duration = std::chrono::seconds(10);
};

// One request of the load, as the client saw it.
struct TriggerOutcome {
  size_t sequence = 0;  // its slot in the schedule
  std::string gateway_url;
  size_t body_index = 0;
  long status = 0;           // 0: no HTTP answer (transport error)
  std::string execution_id;  // from a 200 body
  bool retry_after = false;  // the answer carried Retry-After
  std::string detail;        // transport error, or the body of an answer other than 200
  std::chrono::steady_clock::time_point sent_at;
  std::chrono::milliseconds latency{0};
};

// Sends POST /v1/executions at a fixed total rate for a fixed duration from `threads` threads,
// then stops by itself. Request k is due at start + k / rate. The schedule is open-loop but does
// not burst: a thread that comes back from a slow answer skips slots more than a second late
// rather than sending them all at once (so during an outage fewer requests are sent, each of
// which the gateway must still answer within its deadline).
class TriggerLoad {
 public:
  explicit TriggerLoad(TriggerLoadOptions options);
  ~TriggerLoad();  // waits for the load to end
  TriggerLoad(const TriggerLoad&) = delete;
  TriggerLoad& operator=(const TriggerLoad&) = delete;

  void Start();
  // Waits until the duration is over and every request was answered; the outcomes in slot order.
  std::vector<TriggerOutcome> Wait();

  // Progress so far, safe from any thread (to act "mid-load").
  int answered() const { return answered_.load(); }
  int accepted() const { return accepted_.load(); }

 private:
  void Send(int thread_index);

  TriggerLoadOptions options_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<size_t> next_slot_{0};
  std::atomic<int> answered_{0};
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::vector<TriggerOutcome> outcomes_;
  std::vector<std::thread> threads_;
};

// The body of a periodic trigger of `job`.
std::string PeriodicTriggerBody(const std::string& job);

// --- Counting runs from the outside ---

// The YAML flow list of a job command that sleeps `seconds` between two lines appended to
// `runs_log` (an absolute path):
//   start <execution id> <attempt> <worker pid> <shell pid> <unix time, microseconds>
//   end   <execution id> <attempt> <worker pid> <shell pid> <unix time, microseconds>
// The attempt comes from the workspace directory (<id>-<attempt>, the job's HOME) and the worker
// pid is the job's parent: the worker forks the command itself.
std::string CountedCommand(const std::string& runs_log, double seconds);
// "executor: process, command: <CountedCommand>", a job's keys: the runs log is shared by every
// job of a test and records the worker's pid, which a sandbox keeps from jobs by design (the
// faults tier tests Kafka, leases and workers, not isolation).
std::string CountedJob(const std::string& runs_log, double seconds);

struct JobRunRecord {
  int attempt = 0;
  long worker_pid = 0;
  long shell_pid = 0;
  double start = 0;           // seconds since the epoch
  std::optional<double> end;  // absent: the run never wrote its end line
};

// Runs by execution id, each id's runs in start order.
std::map<std::string, std::vector<JobRunRecord>> ReadRuns(const std::string& runs_log);

// Whether two runs of one execution were ever under way at the same moment. The rule for a run
// without an end line (its shell was killed, or is still running): when its worker is in
// `killed_worker_pids` (SIGKILLed by the test), it is taken to have ended at that worker's kill
// time, because a job that outlived its worker would have written its end line by the time the
// test counts (the tests count only after every execution ended, which is later than the end of
// any job started before the kill). Any other run without an end is still running as far as we
// know, so every other run of that id that started after it overlaps it.
bool RunsOverlap(const std::vector<JobRunRecord>& runs,
                 const std::map<long, double>& killed_worker_pids = {});

// The current time as the runs log writes it (seconds since the epoch).
double UnixSeconds();

// --- Statuses as a gateway answers them ---

// job_status of every execution alice may see, by id, read page by page from GET /v1/executions
// (optionally ?status=). Empty when the gateway does not answer.
std::map<std::string, std::string> ListStatuses(HttpClient& http, const std::string& gateway_url,
                                                const std::string& status = "");

bool IsTerminalStatus(const std::string& status);

// Waits until every id of `ids` has a terminal status on the gateway at `gateway_url`, at most
// `timeout`; returns the statuses of `ids` seen last ("" for an id the gateway does not know).
std::map<std::string, std::string> WaitUntilEnded(HttpClient& http, const std::string& gateway_url,
                                                  const std::set<std::string>& ids,
                                                  std::chrono::milliseconds timeout);

// --- The figures each fault test prints ---

struct FaultFigures {
  int sent = 0;
  int accepted = 0;                     // 200 with an execution id
  int refused_503 = 0;                  // 503 (with or without Retry-After)
  int refused_without_retry_after = 0;  // 503 lacking Retry-After: a contract breach
  int other_errors = 0;                 // any other HTTP status
  int transport_errors = 0;             // no HTTP answer at all
  int ran = 0;                          // accepted executions with at least one run
  int ran_twice = 0;                    // accepted executions with more than one run
  int stuck = 0;                        // accepted executions not ended (or unknown) at the end
  int overlapping = 0;                  // executions with two runs at once (any id in the log)
  int ran_unconfirmed = 0;              // ids that ran although the client got no 200 for them
  int not_success = 0;                  // accepted executions that ended other than SUCCESS
  long max_refusal_ms = 0;              // slowest 503
  long p99_accepted_ms = 0;             // 99th percentile latency of the 200s
  // For a failing test: the runs of the first few executions that ran twice at once.
  std::set<std::string> overlapping_ids;
  std::string overlap_details;
};

// Tallies the load's outcomes against the runs log and the final statuses of the accepted ids.
FaultFigures Tally(const std::vector<TriggerOutcome>& outcomes,
                   const std::map<std::string, std::vector<JobRunRecord>>& runs,
                   const std::map<std::string, std::string>& final_statuses,
                   const std::map<long, double>& killed_worker_pids = {});

// One line, "[faults] <scenario>: accepted=... refused_503=... ...", printed to stdout.
void PrintFigures(const std::string& scenario, const FaultFigures& f);

// Every line of the processes' logs that mentions one of `ids`, headed by the process's pid:
// what a test prints about executions that went wrong.
std::string LinesMentioning(const std::vector<SluiceProcess*>& processes,
                            const std::set<std::string>& ids);

// Waits until the gateway's /readyz answers 200.
bool WaitUntilReady(HttpClient& http, const SluiceProcess& gateway,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Waits until every worker logged a partition assignment (it is in the group and consuming).
bool WaitUntilAssigned(const std::vector<SluiceProcess*>& workers,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The last `max_chars` characters of each process's log, headed by its pid, without the routine
// "running" and "SUCCESS" lines of the worker: what a failing fault test prints.
std::string LogTails(const std::vector<SluiceProcess*>& processes, size_t max_chars = 6000);

// Kills every broker (kill -9). The cluster's data is thrown away after a test, so the graceful
// stop of KafkaCluster's destructor (up to 20s a broker) buys nothing; it then finds none running.
void StopAtOnce(KafkaCluster& cluster);

// Calls StopAtOnce when it goes out of scope, so that a failed ASSERT does not skip it.
class StopAtOnceAtTheEnd {
 public:
  explicit StopAtOnceAtTheEnd(KafkaCluster& cluster) : cluster_(cluster) {}
  ~StopAtOnceAtTheEnd() { StopAtOnce(cluster_); }

 private:
  KafkaCluster& cluster_;
};

// The common scene of the faults tier: a 3-broker cluster, the `counted` job (0.2 s, recorded in
// runs_log()), one gateway and two workers with 12 slots each. Ready() starts the processes and
// waits until the gateway is ready and both workers consume. Processes stop before the cluster.
class CountedJobScene {
 public:
  // `worker_yaml`: extra worker keys. The scene's lease is 6s (heartbeat 1s), not the
  // deployment's 3s: with 3s, a worker that could not renew a claim within 1.5s on this loaded
  // 2-core machine (as Kafka recovers from an outage, or under the rebalance's load) killed the
  // job by design, which then ended ERROR (seen in faults_rebalance and faults_cluster_down).
  explicit CountedJobScene(std::string gateway_yaml = "",
                           std::string worker_yaml = "  heartbeat: 1s\n  lease: 6s\n")
      : gateway_yaml_(std::move(gateway_yaml)), worker_yaml_(std::move(worker_yaml)) {}
  ::testing::AssertionResult Ready();

  KafkaCluster& cluster() { return cluster_; }
  Deployment& deployment() { return *deployment_; }
  SluiceProcess& gateway() { return *gateway_; }
  SluiceProcess& worker(size_t i) { return *workers_.at(i); }
  HttpClient& http() { return http_; }
  const std::string& runs_log() const { return runs_log_; }

 private:
  KafkaCluster cluster_{3};
  StopAtOnceAtTheEnd stop_at_once_{cluster_};
  TempDir scratch_;
  std::string runs_log_ = scratch_.path() + "/runs.log";
  std::string gateway_yaml_;
  std::string worker_yaml_;
  std::unique_ptr<Deployment> deployment_;
  SluiceProcess* gateway_ = nullptr;
  std::vector<SluiceProcess*> workers_;
  HttpClient http_;
};

// The ids of the outcomes answered 200.
std::set<std::string> AcceptedIds(const std::vector<TriggerOutcome>& outcomes);

}  // namespace sluice::testing
