#include "worker/trigger_decision.h"

namespace sluice {

TriggerDecision DecideTrigger(const TriggerFacts& f) {
  using Kind = TriggerDecision::Kind;
  if (f.running_here) return {Kind::kWait, 0, ""};
  if (f.current && IsTerminal(f.current->job_status)) return {Kind::kSkip, 0, ""};

  bool held = f.current && f.current->job_status == JobStatus::kPending;
  if (held) {
    // Held by a worker, which is live while its heartbeat is fresher than the lease. A live
    // holder also carries out aborts; this worker only stands by.
    TimePoint beat =
        f.current->heartbeat_time.value_or(f.current->start_time.value_or(f.trigger_create_time));
    if (f.now - beat < f.lease) return {Kind::kWait, 0, ""};
  }
  if (f.abort_requested) return {Kind::kAbort, 0, "aborted before it started"};
  if (!f.current) {
    // The gateway writes the TRIGGERED record alongside the trigger. Until it shows up here, a
    // status written now could land before it in the compacted topic, so give it a moment.
    if (f.now - f.trigger_create_time < f.view_wait) return {Kind::kWait, 0, ""};
    return {Kind::kRun, 1, ""};
  }
  if (!held) return {Kind::kRun, 1, ""};  // TRIGGERED

  // Held by a lost worker: run the next attempt, if there is one.
  int attempt = f.current->attempt;
  if (attempt >= f.max_attempts) {
    return {Kind::kGiveUp, attempt,
            "worker " + f.current->worker + " was lost during attempt " + std::to_string(attempt) +
                " (no heartbeat for " + FormatDuration(f.lease) + ") and no attempts are left (" +
                "max_attempts: " + std::to_string(f.max_attempts) + ")"};
  }
  return {Kind::kRun, attempt + 1, ""};
}

}  // namespace sluice
