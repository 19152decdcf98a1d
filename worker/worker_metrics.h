#pragma once

// The worker's metrics (common/metrics.h), in the process's default registry. Job labels are
// configured job names (or a configured project's pipeline job names), never execution ids.

#include "common/metrics.h"

namespace sluice {

struct WorkerMetrics {
  metrics::Gauge& jobs_running;
  metrics::Family<metrics::Counter>& jobs_started;    // {job}
  metrics::Family<metrics::Counter>& jobs_finished;   // {job, status}: terminal status written
  metrics::Family<metrics::Histogram>& job_duration;  // {job}: start to end of a run
  metrics::Histogram& job_start_delay;                // trigger's create_time to its run's start
  metrics::Gauge& slots_busy;
  metrics::Gauge& slots_free;
  metrics::Counter& lease_takeovers;
  metrics::Counter& fenced;

  // The families, registered in the default registry on first use.
  static WorkerMetrics& Get();
};

}  // namespace sluice
