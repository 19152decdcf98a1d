#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/execution.h"

namespace sluice {

// What a worker does with a trigger it consumed, given what the status view knows. Pure, so the
// rules that keep redelivery from running a job twice at once are tested without a broker.
struct TriggerDecision {
  enum class Kind {
    kSkip,    // already ended: nothing to do, the offset may move past it
    kWait,    // not yet: held by a live worker, or the view has not seen it yet; ask again later
    kRun,     // claim `attempt` and run it
    kAbort,   // an abort was requested before it started: record ABORTED without running
    kGiveUp,  // its worker was lost and no attempts are left: record ERROR with `message`
  };
  Kind kind = Kind::kWait;
  int attempt = 0;
  std::string message;
  // For kRun and kGiveUp after a lost holder: the holder's record being taken over, which the
  // claim or the ERROR names so that it is void if the holder renewed its claim meanwhile.
  std::optional<LeaseTakeover> takes_over;
};

struct TriggerFacts {
  std::optional<ExecutionState> current;  // the view's state of this execution id
  bool abort_requested = false;
  bool running_here = false;  // this worker already runs this id
  TimePoint trigger_create_time;
  TimePoint now;
  // A PENDING record is a lost worker's once its heartbeat is older than this, and this
  // worker's status view has shown it for at least as long (so a view that stalled, or a
  // heartbeat that reached Kafka late, does not make a live holder look lost).
  Duration lease;
  Duration view_wait;  // how long to wait for the gateway's TRIGGERED record
  int max_attempts = 1;
};

TriggerDecision DecideTrigger(const TriggerFacts& facts);

}  // namespace sluice
