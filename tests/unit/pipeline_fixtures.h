#pragma once

// The GitLab issue's project, for the unit tests of pipelines.

#include <optional>
#include <string>

#include "common/config.h"

namespace sluice {

// A pipeline job that runs `true`. allow_failure defaults as GitLab's does: true for manual jobs.
inline PipelineJobConfig Job(const std::string& name, const std::string& stage,
                             JobWhen when = JobWhen::kOnSuccess,
                             std::optional<bool> allow_failure = {}) {
  PipelineJobConfig j;
  j.name = name;
  j.stage = stage;
  j.when = when;
  j.allow_failure = allow_failure.value_or(when == JobWhen::kManual);
  j.command = {"true"};
  return j;
}

// Project 9, group/project: test, build, then a manual (optional) upload.
inline ProjectConfig IssueProject() {
  ProjectConfig p;
  p.id = 9;
  p.path = "group/project";
  p.stages = {"test", "build", "package"};
  p.jobs = {Job("run_tests", "test"), Job("build_package", "build"),
            Job("upload_package", "package", JobWhen::kManual)};
  return p;
}

}  // namespace sluice
