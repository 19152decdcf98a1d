#include "worker/trigger_decision.h"

namespace sluice {

namespace {

using Kind = TriggerDecision::Kind;

TriggerDecision Decision(Kind kind, int attempt = 0, std::string message = "",
                         std::optional<LeaseTakeover> takes_over = std::nullopt) {
  TriggerDecision d;
  d.kind = kind;
  d.attempt = attempt;
  d.message = std::move(message);
  d.takes_over = std::move(takes_over);
  return d;
}

}  // namespace

TriggerDecision DecideTrigger(const TriggerFacts& f) {
  if (f.running_here) return Decision(Kind::kWait);
  if (f.current && IsTerminal(f.current->job_status)) return Decision(Kind::kSkip);

  std::optional<LeaseTakeover> lost;
  if (f.current && f.current->job_status == JobStatus::kPending) {
    // Held by a worker, which is live while its heartbeat is fresher than the lease. A live
    // holder also carries out aborts; this worker only stands by.
    TimePoint beat =
        f.current->heartbeat_time.value_or(f.current->start_time.value_or(f.trigger_create_time));
    if (f.now - beat < f.lease) return Decision(Kind::kWait);
    if (f.current->seen_time && f.now - *f.current->seen_time < f.lease) {
      return Decision(Kind::kWait);
    }
    lost = LeaseTakeover{f.current->worker, f.current->attempt, f.current->heartbeat_time};
  }
  if (f.abort_requested) {
    if (!lost) return Decision(Kind::kAbort, 0, "aborted before it started");
    return Decision(Kind::kAbort, 0,
                    "aborted on request after worker " + lost->worker +
                        " was lost during attempt " + std::to_string(lost->attempt),
                    lost);
  }
  if (!f.current) {
    // The gateway writes the TRIGGERED record alongside the trigger. Until it shows up here, a
    // status written now could land before it in the compacted topic, so give it a moment.
    if (f.now - f.trigger_create_time < f.view_wait) return Decision(Kind::kWait);
    return Decision(Kind::kRun, 1);
  }
  if (!lost) return Decision(Kind::kRun, 1);  // TRIGGERED

  // Held by a lost worker: run the next attempt, if there is one.
  int attempt = lost->attempt;
  if (attempt >= f.max_attempts) {
    return Decision(
        Kind::kGiveUp, attempt,
        "worker " + lost->worker + " was lost during attempt " + std::to_string(attempt) +
            " (no heartbeat for " + FormatDuration(f.lease) +
            ") and no attempts are left (max_attempts: " + std::to_string(f.max_attempts) + ")",
        lost);
  }
  return Decision(Kind::kRun, attempt + 1, "", lost);
}

}  // namespace sluice
