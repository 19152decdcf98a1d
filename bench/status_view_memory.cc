// How much memory the status view (ExecutionStore) takes per execution.
//
// Every gateway and worker holds the latest state of every execution retained by the results
// topic in memory. This program feeds N realistic executions through the same path the status
// view uses (JSON record -> DecodeExecutionRecord -> ExecutionStore::Apply), each as the three
// records a run writes (the gateway's TRIGGERED, the worker's PENDING claim, the terminal state),
// interleaved as concurrent runs would be, and reports the growth of
//   - the heap in use (glibc mallinfo2(): uordblks, the arena's chunks in use, plus hblkhd, the
//     large blocks malloc maps directly, such as the store's slot chunks and hash index): what
//     the store holds, allocator overhead included;
//   - the resident set (/proc/self/statm): what the operating system sees, fragmentation included.
// Each N runs in a fresh child process so that one measurement does not inherit another's heap.
// It also reports the apply rate alone (ExecutionStore::Apply of decoded records, the part of a
// status view's catch-up that is the store's), and what is left of the heap once every execution
// has expired and a sweep has dropped them (the retention's eviction).
//
//   status_view_memory            N = 10000, 100000, 1000000
//   status_view_memory N...       the given counts

#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

#include "common/execution.h"
#include "common/execution_store.h"
#include "common/json_codec.h"

namespace sluice {
namespace {

// How many runs are in flight at once: records of different executions interleave by this much.
constexpr long kInFlight = 64;

const char* const kJobs[] = {
    "pull-ci-openshift-assisted-installer-master-e2e-metal-assisted",
    "pull-ci-openshift-installer-release-4.18-e2e-aws-ovn",
    "branch-ci-openshift-assisted-installer-release-4.12-images",
    "branch-ci-openshift-release-master-ci-operator-config-metadata",
    "periodic-ci-openshift-release-master-nightly-4.18-e2e-aws-ovn-upgrade",
};

// A deterministic UUID version 7 in canonical form (36 characters), unique per index.
std::string IdFor(long i, long long create_ms) {
  char id[40];
  std::snprintf(id, sizeof id, "%08llx-%04llx-7%03lx-%04lx-%012lx", (create_ms >> 16) & 0xffffffff,
                create_ms & 0xffff, (i >> 48) & 0xfff, 0x8000 | ((i >> 36) & 0x3fff),
                (i * 2654435761L) & 0xffffffffffffL);
  return id;
}

std::string Hex40(long i, int salt) {
  char sha[48];
  std::snprintf(sha, sizeof sha, "%016lx%016lx%08x", i * 0x9e3779b97f4a7c15L + salt,
                (i + salt) * 0xc2b2ae3d27d4eb4fL, static_cast<unsigned>(i ^ salt));
  return sha;
}

// The three records of execution i, as the gateway and a worker would write them. Jobs cycle:
// two presubmits (refs with one pull), two postsubmits (refs), one periodic (no refs).
Execution RecordFor(long i, JobStatus status) {
  using std::chrono::milliseconds;
  const TimePoint base = TimePoint(milliseconds(1795000000000LL));  // November 2026
  const long long create_ms = 1795000000000LL + i * 10;
  const int kind = static_cast<int>(i % 5);
  Execution e;
  e.id = IdFor(i, create_ms);
  e.job_name = kJobs[kind];
  e.job_type = kind < 2   ? JobType::kPresubmit
               : kind < 4 ? JobType::kPostsubmit
                          : JobType::kPeriodic;
  if (kind < 4) {
    Refs refs;
    refs.org = "openshift";
    refs.repo = kind % 2 == 0 ? "assisted-installer" : "installer";
    refs.repo_link = "https://github.com/" + refs.org + "/" + refs.repo;
    refs.base_ref = kind < 2 ? "master" : "release-4.12";
    refs.base_sha = Hex40(i, 1);
    refs.base_link = refs.repo_link + "/commit/" + refs.base_sha;
    if (kind < 2) {
      Pull pull;
      pull.number = static_cast<int>(1000 + i % 9000);
      pull.author = "release-engineer";
      pull.sha = Hex40(i, 2);
      pull.title = "OCPBUGS-" + std::to_string(10000 + i % 90000) + ": bump the release image";
      pull.link = refs.repo_link + "/pull/" + std::to_string(pull.number);
      pull.commit_link = pull.link + "/commits/" + pull.sha;
      pull.author_link = "https://github.com/" + pull.author;
      refs.pulls.push_back(pull);
    }
    e.refs = refs;
  }
  e.pod_spec_options.envs = {
      {"RELEASE_IMAGE_LATEST", "quay.io/openshift-release-dev/ocp-release:4.18.8-x86_64"},
      {"MULTISTAGE_PARAM_OVERRIDE_TEST_SUITE", "openshift/conformance/parallel"},
  };
  e.pod_spec_options.annotations = {{"sluice.io/source", "api"}, {"sluice.io/user", "release-bot"}};
  e.gcs_path = ArtifactsPathFor("/var/lib/sluice/artifacts", e.job_name, e.id);
  e.create_time = base + milliseconds(i * 10);
  e.client = "release-bot";
  e.fingerprint = Hex40(i, 3) + Hex40(i, 4).substr(0, 24);  // SHA-256 in hex: 64 characters
  e.job_status = status;
  if (status == JobStatus::kTriggered) return e;
  e.worker = "sluice-worker-" + std::to_string(i % 7) + "-4711-a1b2c3";
  e.attempt = 1;
  e.start_time = *e.create_time + milliseconds(150);
  e.heartbeat_time = *e.start_time + milliseconds(5000);
  if (IsTerminal(status)) {
    e.completion_time = *e.start_time + std::chrono::minutes(42);
    e.heartbeat_time = e.completion_time;
    if (status == JobStatus::kFailure) e.message = "the job's command exited with status 2";
  }
  return e;
}

size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// The store's clock: set by the benchmark, so that it can make every execution expire.
class BenchClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_ = TimePoint(std::chrono::milliseconds(1795000000000LL));
};

size_t ResidentBytes() {
  long pages_total = 0;
  long pages_resident = 0;
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) return 0;
  if (std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
  std::fclose(statm);
  return static_cast<size_t>(pages_resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// Decodes a record as the status view's follower does and applies it; times both together and
// the apply alone.
bool Feed(ExecutionStore& store, const std::string& json, double* feed_seconds,
          double* apply_seconds) {
  auto start = std::chrono::steady_clock::now();
  StatusOr<Execution> record = DecodeExecutionRecord(json);
  if (!record.ok()) {
    std::fprintf(stderr, "cannot decode: %s\n", record.status().message().c_str());
    return false;
  }
  auto decoded = std::chrono::steady_clock::now();
  store.Apply(*record);
  auto end = std::chrono::steady_clock::now();
  *feed_seconds += std::chrono::duration<double>(end - start).count();
  *apply_seconds += std::chrono::duration<double>(end - decoded).count();
  return true;
}

int Measure(long n) {
  // Warm up what the first records would otherwise allocate once (locale, RapidJSON pools).
  {
    ExecutionStore warm;
    double unused = 0;
    Feed(warm, EncodeExecutionRecord(RecordFor(0, JobStatus::kTriggered)), &unused, &unused);
  }
  malloc_trim(0);
  const size_t heap_before = HeapInUse();
  const size_t rss_before = ResidentBytes();

  BenchClock clock;
  ExecutionStore store(clock);
  double feed_seconds = 0;
  double apply_seconds = 0;
  size_t record_bytes = 0;
  // Stage k of execution i is applied at step i + k * kInFlight.
  for (long step = 0; step < n + 2 * kInFlight; ++step) {
    for (int stage = 0; stage < 3; ++stage) {
      const long i = step - stage * kInFlight;
      if (i < 0 || i >= n) continue;
      const JobStatus status = stage == 0    ? JobStatus::kTriggered
                               : stage == 1  ? JobStatus::kPending
                               : i % 20 == 0 ? JobStatus::kFailure
                                             : JobStatus::kSuccess;
      std::string json = EncodeExecutionRecord(RecordFor(i, status));
      if (stage == 2) record_bytes += json.size();
      if (!Feed(store, json, &feed_seconds, &apply_seconds)) return 1;
    }
  }
  if (static_cast<long>(store.size()) != n) {
    std::fprintf(stderr, "expected %ld executions, the store holds %zu\n", n, store.size());
    return 1;
  }

  const double heap = static_cast<double>(HeapInUse()) - static_cast<double>(heap_before);
  const double rss = static_cast<double>(ResidentBytes()) - static_cast<double>(rss_before);
  const size_t interned = store.InternedStrings();
  const double estimate = static_cast<double>(store.MemoryBytes());

  // Every execution past the retention: one sweep pass drops them all.
  clock.Set(clock.Now() + store.retention() + std::chrono::hours(24 * 365));
  for (long step = 0; step <= n / ExecutionStore::kSweepStep + 1; ++step) store.Sweep();
  if (store.size() != 0 || store.InternedStrings() != 0) {
    std::fprintf(stderr, "after expiry the store holds %zu executions and %zu strings\n",
                 store.size(), store.InternedStrings());
    return 1;
  }
  const double heap_left = static_cast<double>(HeapInUse()) - static_cast<double>(heap_before);
  std::printf(
      "| %10ld | %11.0f | %10.0f | %7.1f | %11.0f | %9.0f | %9.0f | %6zu | %8zu | %11.1f |\n", n,
      heap / n, rss / n, rss / (1024.0 * 1024.0), estimate / n, 3.0 * n / feed_seconds,
      3.0 * n / apply_seconds, record_bytes / n, interned, heap_left / (1024.0 * 1024.0));
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) {
  std::vector<long> counts;
  for (int a = 1; a < argc; ++a) counts.push_back(std::atol(argv[a]));
  if (counts.empty()) counts = {10000, 100000, 1000000};

  std::printf(
      "| executions | heap B/exec | RSS B/exec | RSS MiB | est. B/exec | records/s |   apply/s | "
      "JSON B | interned | expired MiB |\n"
      "|-----------:|------------:|-----------:|--------:|-----------:|----------:|----------:|"
      "-------:|---------:|------------:|\n");
  std::fflush(stdout);
  int failures = 0;
  for (long n : counts) {
    if (n <= 0) {
      std::fprintf(stderr, "not a positive count: %ld\n", n);
      return 2;
    }
    pid_t child = fork();
    if (child == 0) _exit(sluice::Measure(n));
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failures;
  }
  std::printf(
      "\nheap: glibc heap in use (mallinfo2 uordblks + hblkhd) after minus before; RSS: resident "
      "set (/proc/self/statm); est.: the store's own account\n(ExecutionStore::MemoryBytes, the "
      "sluice_status_view_bytes gauge); records/s: decode + apply, 3 records per execution; "
      "apply/s: "
      "ExecutionStore::Apply alone;\nJSON B: mean size of the terminal record on the results "
      "topic; interned: distinct strings the store\ninterned; expired MiB: heap still in use "
      "(over the start) once every execution expired and a sweep dropped it.\n");
  return failures == 0 ? 0 : 1;
}
