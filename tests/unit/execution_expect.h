#pragma once

// Field-by-field comparison of two executions, so that a failure names the field that differs.

#include <gtest/gtest.h>

#include "common/execution.h"

namespace sluice {

// Every field written to Kafka (seen_time, local to a view, is not).
inline void ExpectSameExecution(const Execution& got, const Execution& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.job_name, want.job_name);
  EXPECT_EQ(got.job_type, want.job_type);
  EXPECT_EQ(got.job_status, want.job_status);
  EXPECT_EQ(got.refs, want.refs);
  EXPECT_EQ(got.pod_spec_options, want.pod_spec_options);
  EXPECT_EQ(got.gcs_path, want.gcs_path);
  EXPECT_EQ(got.create_time, want.create_time);
  EXPECT_EQ(got.start_time, want.start_time);
  EXPECT_EQ(got.completion_time, want.completion_time);
  EXPECT_EQ(got.message, want.message);
  EXPECT_EQ(got.client, want.client);
  EXPECT_EQ(got.fingerprint, want.fingerprint);
  EXPECT_EQ(got.worker, want.worker);
  EXPECT_EQ(got.attempt, want.attempt);
  EXPECT_EQ(got.heartbeat_time, want.heartbeat_time);
  EXPECT_EQ(got.takes_over, want.takes_over);
  EXPECT_EQ(got.pipeline_id, want.pipeline_id);
  EXPECT_EQ(got.project_id, want.project_id);
  EXPECT_EQ(got.job_token_sha256, want.job_token_sha256);
}

}  // namespace sluice
