#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

namespace sluice {

// Called exactly once per Publish: OK once the broker has acknowledged the record (acks=all),
// an error otherwise. For the Kafka publisher it runs on the publisher's delivery thread, so it
// must not block; it may send an HTTP reply.
using DeliveryCallback = std::function<void(const Status&)>;

// Where an acknowledged record landed; {-1, -1} when it was not acknowledged.
struct RecordPosition {
  int32_t partition = -1;
  int64_t offset = -1;
};
using PositionedCallback = std::function<void(const Status&, RecordPosition)>;

// The seam between Sluice and Kafka's producer. Unit tests use an in-memory fake.
class Publisher {
 public:
  virtual ~Publisher() = default;
  // Never blocks. An empty value is a tombstone (no payload). When the record cannot even be queued
  // (queue full, unknown topic, shutting down) `done` is called before Publish returns, with the
  // error.
  virtual void Publish(const std::string& topic, const std::string& key, const std::string& value,
                       DeliveryCallback done) = 0;
  // As Publish, and tells where the record landed: a record's place in its topic is unique, so
  // ids drawn from it need no coordination (common/pipeline.h).
  virtual void PublishPositioned(const std::string& topic, const std::string& key,
                                 const std::string& value, PositionedCallback done) = 0;
  // Whether the last probe reached a broker. Cheap; does not touch the network.
  virtual bool Reachable() const = 0;
};

}  // namespace sluice
