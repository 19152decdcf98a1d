#pragma once

// How large a Kafka record of Sluice's may be, and the one check that a request's records fit
// before the gateway produces them: a 2xx promises the trigger will run, and a record Kafka
// refuses for its size (at the gateway, or later at the worker) breaks that promise.

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// max.message.bytes of the topics EnsureTopics creates (all but events, which takes whole
// webhook deliveries), and the least message.max.bytes of every KafkaPublisher: a record of
// this size is accepted end to end. Kafka's broker default is 1 MiB + 12 bytes; a request body
// of gateway.max_body_bytes (1 MiB by default) must fit with room to spare.
inline constexpr size_t kMaxRecordBytes = 2 * 1024 * 1024;

// What Kafka adds to a record's key and value when it counts against max.message.bytes: the
// record batch header (61 bytes), the record's varints and attributes. Generously rounded up.
inline constexpr size_t kRecordOverheadBytes = 1024;

// Room kept for what an execution's later records add to the TRIGGERED record the gateway
// writes: the worker's claims, heartbeats and terminal state carry the same execution fields
// plus the worker's id, attempt, times, takeover, job token hash and a bounded message.
inline constexpr size_t kWorkerRecordReserveBytes = 32 * 1024;

// Room beyond the bytes of a request body that the records of the request may take: ids,
// times, the artifacts path, client, fingerprint, Sluice's annotations and the worker's
// fields. check-config requires gateway.max_body_bytes + this to fit kMaxRecordBytes.
inline constexpr size_t kRequestRecordReserveBytes = 64 * 1024;

// The field of a request that makes its record large, for messages.
struct FieldSize {
  std::string path;  // as messages spell fields: "pod_spec_options.envs.X", "variables.X"
  size_t bytes = 0;
};

// The largest entry of a map of names to values (name and value counted), its path
// `field`.<name>; an empty path when the map is empty.
FieldSize LargestEntry(const std::map<std::string, std::string>& entries, std::string_view field);

// Whether a record of record_bytes (key and value) fits kMaxRecordBytes with `reserve` bytes to
// spare for later records of the same thing. Otherwise kInvalidArgument with HTTP 413 and a
// message naming the record (`what`), the limit and the field largest() names.
Status CheckRecordFits(std::string_view what, size_t record_bytes, size_t reserve,
                       const std::function<FieldSize()>& largest);

}  // namespace sluice
