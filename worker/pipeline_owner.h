#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/pipeline.h"
#include "common/publisher.h"
#include "common/status_view.h"

namespace sluice {

// Moves the pipelines whose commands this worker holds (common/pipeline.h): applies each
// command to the pipeline's record in topic order, triggers the jobs that are due, and aborts the
// jobs of a cancel. Every step is derived again from the record and the status view, so a new
// owner after a rebalance or a crash carries on where the last one stopped; what it may do twice
// is harmless (a job's TRIGGERED record is written only while the view has none, and a trigger
// met twice runs once). Called on the worker's thread only.
class PipelineOwner {
 public:
  PipelineOwner(const Config& config, Publisher& publisher, StatusView& view,
                PipelineStore& pipelines, const Clock& clock);

  struct HeldCommand {
    int64_t offset = 0;
    const PipelineCommand* command = nullptr;
  };
  // `held`: this worker's unfinished commands of one pipeline, oldest first. Returns the
  // offsets that need nothing more: applied, and the pipeline finished or carried on by a
  // newer command.
  std::vector<int64_t> Advance(int64_t pipeline_id, const std::vector<HeldCommand>& held,
                               TimePoint now);
  // Forgets what it tracks of pipelines it no longer holds commands of.
  void Retain(const std::set<int64_t>& pipeline_ids);

 private:
  // What this owner has sent for one pipeline; flags are set from delivery callbacks.
  struct Tracking {
    bool record_in_flight = false;
    int64_t applied = -1;              // newest command offset applied without a record write
    std::set<int64_t> triggered_sent;  // TRIGGERED records sent (acknowledged or in flight)
    std::set<int64_t> triggers_sent;   // job triggers sent
    std::set<int64_t> aborts_sent;     // abort requests sent
  };
  struct Shared {
    std::mutex mutex;
    std::map<int64_t, Tracking> pipelines;
  };

  // Sends what the state asks for: aborts, TRIGGERED records, triggers. True when it sent a
  // TRIGGERED record it had not sent before (the view shows it only later).
  bool Drive(const ProjectConfig& project, const Pipeline& pipeline, const PipelineState& state,
             TimePoint now);
  void WriteRecord(const Pipeline& next);

  const Config& config_;
  Publisher& publisher_;
  StatusView& view_;
  PipelineStore& pipelines_;
  const Clock& clock_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

// The JobConfig a worker runs a pipeline job with: the pipeline job's command and timeout, a
// checkout of the project's repository when it has one, and kPipelineJobAttempts attempts (a
// job whose worker was lost runs once more, so that a pipeline survives a worker's crash).
constexpr int kPipelineJobAttempts = 2;
JobConfig PipelineJobRunConfig(const ProjectConfig& project, const PipelineJobConfig& job);

}  // namespace sluice
