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
};

struct TriggerFacts {
  std::optional<Execution> current;  // the view's state of this execution id
  bool abort_requested = false;
  bool running_here = false;  // this worker already runs this id
  TimePoint trigger_create_time;
  TimePoint now;
  Duration lease;      // a PENDING record older than this is a lost worker's
  Duration view_wait;  // how long to wait for the gateway's TRIGGERED record
  int max_attempts = 1;
};

TriggerDecision DecideTrigger(const TriggerFacts& facts);

}  // namespace sluice
