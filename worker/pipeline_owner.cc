#include "worker/pipeline_owner.h"

#include "common/json_codec.h"
#include "common/log.h"

namespace sluice {

namespace {
constexpr const char* kComponent = "pipelines";
}  // namespace

JobConfig PipelineJobRunConfig(const ProjectConfig& project, const PipelineJobConfig& job) {
  JobConfig run;
  run.name = job.name;
  run.type = JobType::kPostsubmit;
  run.command = job.command;
  run.env = job.env;
  run.timeout = job.timeout;
  run.max_attempts = kPipelineJobAttempts;
  run.clone = !project.repository.empty();
  run.allow_clone_uri = {project.repository};
  run.runtime = job.runtime;
  // The project's secrets, where the job does not name its own of the same name.
  for (const auto& [name, source] : project.secret_env)
    run.runtime.secret_env.emplace(name, source);
  return run;
}

PipelineOwner::PipelineOwner(const Config& config, Publisher& publisher, StatusView& view,
                             PipelineStore& pipelines, const Clock& clock)
    : config_(config), publisher_(publisher), view_(view), pipelines_(pipelines), clock_(clock) {}

void PipelineOwner::Retain(const std::set<int64_t>& pipeline_ids) {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  for (auto it = shared_->pipelines.begin(); it != shared_->pipelines.end();) {
    if (pipeline_ids.count(it->first) || it->second.record_in_flight) {
      ++it;
    } else {
      it = shared_->pipelines.erase(it);
    }
  }
}

std::vector<int64_t> PipelineOwner::Advance(int64_t pipeline_id,
                                            const std::vector<HeldCommand>& held, TimePoint now) {
  std::vector<int64_t> done;
  auto pipeline = pipelines_.Get(pipeline_id);
  if (!pipeline) {
    // The gateway writes the record before it answers; a command whose record never comes
    // belongs to a create that was refused (503), and is dropped.
    for (const HeldCommand& h : held) {
      if (now - h.command->time > config_.gateway.request_timeout * 2) {
        LogWarn(kComponent, "pipeline " + std::to_string(pipeline_id) +
                                ": no record; dropping its " +
                                PipelineCommandKindName(h.command->kind) + " command");
        done.push_back(h.offset);
      }
    }
    return done;
  }
  const ProjectConfig* project = config_.FindProject(std::to_string(pipeline->project_id));
  if (project == nullptr) {
    LogError(kComponent, "pipeline " + std::to_string(pipeline_id) + ": project " +
                             std::to_string(pipeline->project_id) + " is not configured here");
    for (const HeldCommand& h : held) done.push_back(h.offset);
    return done;
  }
  ExecutionLookup lookup = [this](const std::string& id) { return view_.store().Get(id); };

  int64_t applied;
  std::set<int64_t> triggered_sent;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    Tracking& t = shared_->pipelines[pipeline_id];
    if (t.record_in_flight) return done;  // one write at a time; the next turn sees its result
    applied = std::max(t.applied, pipeline->applied_offset);
    triggered_sent = t.triggered_sent;
  }
  // Nothing is decided while a TRIGGERED record sent here is not in the view yet: a command
  // applied, or the pipeline found finished, without it would take that job for one that never
  // started, and the record landing afterwards would leave it pending with no one to trigger or
  // abort it (a cancel right after the trigger did exactly that). Checked before the state is
  // evaluated, so the evaluation below sees every one of them.
  for (int64_t id : triggered_sent) {
    if (!view_.store().Get(std::to_string(id))) return done;
  }
  // Apply the oldest command not applied yet; one record write per turn.
  for (const HeldCommand& h : held) {
    if (h.offset <= applied) continue;
    PipelineState state = EvaluatePipeline(*project, *pipeline, lookup);
    if (PipelineCommandAwaitsView(*h.command, state) &&
        now - h.command->time <= config_.gateway.request_timeout * 2) {
      // The gateway saw the job where this view has not got it yet; the commands after this one
      // wait with it, so that all apply in topic order.
      for (const HeldCommand& before : held) {
        if (before.offset < h.offset) done.push_back(before.offset);
      }
      Drive(*project, *pipeline, state, now);
      return done;
    }
    // The jobs the pipeline starts as it stands are started before a play or retry applies, as
    // they would have been had the command come later: commands read in one turn (a trigger, a
    // play and a job's cancel right after) apply one after the other to the pipeline as its
    // user saw it, not to one whose first stage was never started. A cancel applies to it as
    // it stands: what it cancels does not start first.
    bool cancels = h.command->kind == PipelineCommandKind::kCancel ||
                   h.command->kind == PipelineCommandKind::kCancelJob;
    if (!cancels && Drive(*project, *pipeline, state, now)) {
      for (const HeldCommand& before : held) {
        if (before.offset < h.offset) done.push_back(before.offset);
      }
      return done;  // the next turn goes on once the view shows their TRIGGERED records
    }
    Pipeline next = *pipeline;
    if (ApplyPipelineCommand(*project, *h.command, state, next, now)) {
      next.applied_offset = h.offset;
      LogInfo(kComponent, "pipeline " + std::to_string(pipeline_id) + ": " +
                              PipelineCommandKindName(h.command->kind) +
                              (h.command->job_id ? " job " + std::to_string(h.command->job_id)
                                                 : std::string()));
      WriteRecord(next);
      return done;
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->pipelines[pipeline_id].applied = h.offset;
    applied = h.offset;
  }
  // Every command is applied: all but the newest are done; the newest carries the pipeline on.
  for (size_t i = 0; i + 1 < held.size(); ++i) done.push_back(held[i].offset);
  PipelineState state = EvaluatePipeline(*project, *pipeline, lookup);
  Drive(*project, *pipeline, state, now);
  if (state.finished) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    Tracking& t = shared_->pipelines[pipeline_id];
    bool quiet = !t.record_in_flight;
    if (quiet) done.push_back(held.back().offset);
  }
  return done;
}

void PipelineOwner::WriteRecord(const Pipeline& next) {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->pipelines[next.id].record_in_flight = true;
  }
  auto shared = shared_;
  PipelineStore& store = pipelines_;
  publisher_.Publish(config_.kafka.PipelinesTopic(), std::to_string(next.id), EncodePipeline(next),
                     [shared, &store, next](const Status& s) {
                       // Read-your-writes here; other readers learn it from the topic. The
                       // store is the worker's, which outlives its publisher's callbacks.
                       if (s.ok()) store.Put(next);
                       if (!s.ok()) {
                         LogWarn(kComponent, "pipeline " + std::to_string(next.id) +
                                                 " not written, retrying: " + s.ToString());
                       }
                       std::lock_guard<std::mutex> lock(shared->mutex);
                       shared->pipelines[next.id].record_in_flight = false;
                     });
}

bool PipelineOwner::Drive(const ProjectConfig& project, const Pipeline& pipeline,
                          const PipelineState& state, TimePoint now) {
  bool started = false;
  auto shared = shared_;
  auto sent = [&](std::set<int64_t> Tracking::*set, int64_t id) {
    std::lock_guard<std::mutex> lock(shared->mutex);
    return !(shared->pipelines[pipeline.id].*set).insert(id).second;
  };
  // On failure, forget the send so that the next turn tries again.
  auto forget_on_failure = [shared, pipeline_id = pipeline.id](std::set<int64_t> Tracking::*set,
                                                               int64_t id, std::string what) {
    return [shared, pipeline_id, set, id, what](const Status& s) {
      if (s.ok()) return;
      LogWarn(kComponent,
              what + " for job " + std::to_string(id) + " not written: " + s.ToString());
      std::lock_guard<std::mutex> lock(shared->mutex);
      (shared->pipelines[pipeline_id].*set).erase(id);
    };
  };

  for (int64_t id : state.to_abort) {
    if (sent(&Tracking::aborts_sent, id)) continue;
    AbortRequest request{std::to_string(id), "pipeline " + std::to_string(pipeline.id), now};
    publisher_.Publish(config_.kafka.ControlTopic(), request.id, EncodeAbortRequest(request),
                       forget_on_failure(&Tracking::aborts_sent, id, "abort request"));
  }
  for (int64_t id : state.to_start) {
    // First the TRIGGERED record, which shows the job pending and marks it as started for any
    // later owner; the trigger follows once the view shows that record.
    if (sent(&Tracking::triggered_sent, id)) continue;
    started = true;
    const PipelineJobState* job = state.Job(id);
    Trigger trigger = PipelineJobTrigger(project, pipeline, job->run, now);
    Execution record = Execution::FromTrigger(
        trigger, ArtifactsPathFor(config_.worker.artifacts, trigger.job_name, trigger.id));
    publisher_.Publish(config_.kafka.ResultsTopic(), trigger.id, EncodeExecutionRecord(record),
                       forget_on_failure(&Tracking::triggered_sent, id, "TRIGGERED record"));
  }
  for (const PipelineJobState& job : state.jobs) {
    if (!job.execution || job.execution->job_status != JobStatus::kTriggered) continue;
    if (sent(&Tracking::triggers_sent, job.run.id)) continue;
    Trigger trigger = PipelineJobTrigger(project, pipeline, job.run, now);
    trigger.create_time = job.execution->create_time.value_or(now);
    LogInfo(kComponent, "pipeline " + std::to_string(pipeline.id) + ": triggering " + job.run.name +
                            " (job " + trigger.id + ")");
    publisher_.Publish(config_.kafka.RequestsTopic(), trigger.id, EncodeTrigger(trigger),
                       forget_on_failure(&Tracking::triggers_sent, job.run.id, "trigger"));
  }
  return started;
}

}  // namespace sluice
