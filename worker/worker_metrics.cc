#include "worker/worker_metrics.h"

namespace sluice {

WorkerMetrics& WorkerMetrics::Get() {
  static WorkerMetrics* m = [] {
    metrics::Registry& r = metrics::DefaultRegistry();
    auto& slots =
        r.AddGauge("sluice_worker_slots",
                   "Job slots of this worker (worker.max_concurrency), busy or free.", {"state"});
    return new WorkerMetrics{
        r.AddGauge("sluice_jobs_running", "Jobs holding a slot of this worker.").Get(),
        r.AddCounter("sluice_jobs_started_total", "Runs started by this worker, by job.", {"job"}),
        r.AddCounter("sluice_jobs_finished_total",
                     "Terminal statuses this worker wrote to the results topic, by job and status "
                     "(SUCCESS, FAILURE, ABORTED, ERROR).",
                     {"job", "status"}),
        r.AddHistogram("sluice_job_duration_seconds", "Time from a run's start to its end, by job.",
                       {"job"}, metrics::JobDurationBuckets()),
        r.AddHistogram("sluice_job_start_delay_seconds",
                       "Time from a trigger's creation (create_time) to the start of its run on "
                       "this worker.",
                       {}, metrics::JobDurationBuckets())
            .Get(),
        slots.With({"busy"}),
        slots.With({"free"}),
        r.AddCounter("sluice_worker_lease_takeovers_total",
                     "Executions of a lost worker this worker took over (claim confirmed).")
            .Get(),
        r.AddCounter("sluice_worker_fenced_total",
                     "Runs this worker killed because it could not renew their claim within half "
                     "the lease.")
            .Get(),
    };
  }();
  return *m;
}

}  // namespace sluice
