#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/execution.h"
#include "common/git_delivery.h"
#include "common/kafka.h"
#include "common/publisher.h"
#include "common/status_view.h"

namespace sluice {

// What a stored delivery still needs published for its jobs to run.
struct DispatchPlan {
  std::vector<Execution> records;  // TRIGGERED records, for executions the view has never seen
  std::vector<Trigger> triggers;   // for executions not yet claimed or ended
};

// For each of a delivery's triggers: its TRIGGERED record when `current` knows no record of the
// execution, and the trigger itself unless the execution was claimed or has ended. Dispatching a
// delivery twice (a crash before its offset was committed, or two gateways storing one delivery
// at once) therefore starts each execution once: a trigger met twice runs once (worker.h).
DispatchPlan PlanDispatch(
    const std::vector<Trigger>& triggers,
    const std::function<std::optional<Execution>(const std::string&)>& current,
    const std::string& artifacts);

// Starts the matched jobs of stored deliveries. A member of the dispatchers' consumer group on
// the events topic, on a thread of its own in every worker process: a record's offset is
// committed only once Kafka has acknowledged everything its plan published, so a delivery whose
// gateway or dispatcher died on the way is dispatched again by the partition's next owner.
class DeliveryDispatcher {
 public:
  DeliveryDispatcher(const Config& config, Publisher& publisher, StatusView& view,
                     const Clock& clock, std::string worker_id);
  ~DeliveryDispatcher();

  // Joins the group and starts the thread. Blocking; start-up only.
  Status Start();
  void Stop();

 private:
  void Loop();
  // Publishes the record's plan and waits for Kafka; OK once everything is acknowledged.
  Status Dispatch(const DeliveryRecord& record);

  const Config& config_;
  Publisher& publisher_;
  StatusView& view_;
  const Clock& clock_;
  std::string worker_id_;
  KafkaHandle consumer_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sluice
