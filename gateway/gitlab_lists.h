#pragma once

// The filters and orders of GitLab's list calls, as pure functions: a pipeline list's ref,
// status, source, scope, order_by and sort; a job list's scope (one value, scope[], or several
// joined by commas). Invalid values are GitLab's 400 {"error": "<param> does not have a valid
// value"}.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/pipeline.h"
#include "gateway/api.h"

namespace sluice {

enum class PipelineOrder { kId, kStatus, kRef, kUpdatedAt, kUserId };

struct PipelineListFilter {
  std::optional<std::string> ref;
  std::optional<std::string> status;  // one of GitLab's pipeline statuses
  std::optional<std::string> source;
  // running, pending, finished (ended), branches (not a tag), tags.
  std::optional<std::string> scope;
  PipelineOrder order = PipelineOrder::kId;  // GitLab's default: id, newest first
  bool ascending = false;
};

struct PipelineListFilterResult {
  PipelineListFilter filter;
  std::optional<ApiReply> error;
};
PipelineListFilterResult ReadPipelineListFilter(const std::map<std::string, std::string>& query);

// A pipeline with what its jobs add up to, as the list shows it.
struct ListedPipeline {
  Pipeline pipeline;
  PipelineStatus status = PipelineStatus::kCreated;
  bool finished = false;
};

// The pipelines `filter` keeps, in its order (ties by id, in the same direction).
std::vector<ListedPipeline> SelectPipelines(std::vector<ListedPipeline> pipelines,
                                            const PipelineListFilter& filter);

// A job list's scope: the job statuses to keep (empty: all).
// A pipeline's job list also takes include_retried (GitLab 13.6+): the runs a retry replaced too.
struct JobScopesResult {
  std::set<std::string> scopes;
  bool include_retried = false;
  std::optional<ApiReply> error;
};
JobScopesResult ReadJobScopes(const std::map<std::string, std::string>& query);

}  // namespace sluice
