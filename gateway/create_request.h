#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/execution.h"
#include "common/status.h"

namespace sluice {

// The body of POST /v1/executions (Prow's CreateJobExecutionRequest), parsed and structurally
// valid. Job-dependent rules are checked by ValidateAgainstJob.
struct CreateRequest {
  std::string job_name;
  JobType job_type = JobType::kUnspecified;
  std::optional<Refs> refs;  // present iff the body had a "refs" object, even an empty one
  PodSpecOptions pod_spec_options;
};

// The 415 check. Accepts a missing (empty) Content-Type, application/json, any */*+json,
// text/plain and application/x-www-form-urlencoded (curl -d sends the latter with a JSON body, as
// Prow's documented examples do). Parameters such as "; charset=utf-8" are ignored; the
// comparison is case-insensitive. Anything else is kInvalidArgument with HTTP status 415.
Status CheckContentType(std::string_view content_type);

// Parses the body and validates it against schemas/create_execution.schema.json, then checks the
// rules that need no configuration: job_name present and non-empty, job_execution_type one of
// PERIODIC, POSTSUBMIT, PRESUBMIT (as 1, "1" or "PERIODIC"). job_name_from_path is set for
// POST /v1/executions/{job_name}: the body's job_name may then be absent, empty or equal to it.
// Every error is kInvalidArgument and names the offending field by its path, e.g.
// "refs.pulls[0].sha".
StatusOr<CreateRequest> ParseCreateRequest(std::string_view body,
                                           const std::optional<std::string>& job_name_from_path);

// The rules that need the job's configuration, checked in this order: job type, refs (presence,
// required fields, pulls, the job's repo and branches), envs (name syntax, non-empty value, the
// job's allow_env_override), labels, annotations. The first failure is returned; its message is
// part of the API.
Status ValidateAgainstJob(const CreateRequest& request, const JobConfig& job);

// The request's own environment values against the gateway's limits: each value at most
// max_value_bytes (gateway.max_env_value_bytes), all names and values together at most
// max_total_bytes (gateway.max_env_total_bytes). Larger ones could not reach a job's process
// (ARG_MAX) and could make the execution's records too large for Kafka. `field` is the map's
// path in messages ("pod_spec_options.envs", "variables"); errors are kInvalidArgument naming
// the variable and the limit.
Status CheckEnvSizes(const std::map<std::string, std::string>& envs, size_t max_value_bytes,
                     size_t max_total_bytes, std::string_view field);

// Lower-case hex SHA-256 of a canonical encoding of the request (job name, type, refs,
// pod_spec_options). Equal requests give equal fingerprints across processes and versions, so it
// tells whether an Idempotency-Key is reused for a different request.
std::string RequestFingerprint(const CreateRequest& request);

// Whether name matches ^[A-Za-z_][A-Za-z0-9_]*$.
bool IsValidEnvName(std::string_view name);

// Whether allow_env_override permits overriding name. Entries are exact names, or prefixes ending
// in a single trailing '*' ("MULTISTAGE_PARAM_OVERRIDE_*"); a '*' anywhere else is literal.
bool EnvNameAllowed(const std::vector<std::string>& allow_env_override, std::string_view name);

}  // namespace sluice
