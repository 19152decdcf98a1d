#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace sluice {

// Execution ids are UUIDs in canonical text form, unique without coordination between gateways.

// RFC 9562 version 7: 48-bit Unix milliseconds, then 74 random bits. Time-ordered.
std::string NewExecutionIdV7(TimePoint now);

// RFC 9562 version 8 (custom), derived from SHA-256 of (client, Idempotency-Key): every gateway
// computes the same id for the same client and key, so concurrent retries converge on one
// execution without talking to each other.
std::string ExecutionIdForIdempotencyKey(std::string_view client, std::string_view key);

// RFC 9562 version 8 as above, from (host, delivery id, replay, job): the execution a webhook
// delivery (replay 0) or its N-th replay starts for a job. Every gateway and worker derives the
// same id, so a delivery received twice, or dispatched twice, starts one execution.
std::string ExecutionIdForDelivery(std::string_view host, std::string_view delivery_id, int replay,
                                   std::string_view job);

// A numeric id (trigger tokens, and later pipelines and jobs) that JavaScript reads exactly
// (below 2^53) and that gateways draw without talking to each other: milliseconds since
// 2020-01-01 shifted left by 11 bits, and 11 random bits. Time-ordered.
int64_t NewNumericId(TimePoint now);

// True for the canonical 8-4-4-4-12 lower- or upper-case hex form.
bool IsExecutionId(std::string_view text);

}  // namespace sluice
