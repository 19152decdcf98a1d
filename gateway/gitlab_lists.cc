#include "gateway/gitlab_lists.h"

#include <algorithm>
#include <sstream>

#include "gateway/gitlab_replies.h"

namespace sluice {

namespace {

ApiReply NotValid(const std::string& param) {
  return GitLabParamError(param + " does not have a valid value");
}

// GitLab's values of each parameter (lib/api/ci/pipelines.rb, Ci::HasStatus, Ci::Pipeline).
const std::set<std::string> kPipelineStatuses = {"created",   "waiting_for_resource",
                                                 "preparing", "pending",
                                                 "running",   "success",
                                                 "failed",    "canceled",
                                                 "skipped",   "manual",
                                                 "scheduled"};
const std::set<std::string> kPipelineSources = {"push",
                                                "web",
                                                "trigger",
                                                "schedule",
                                                "api",
                                                "external",
                                                "pipeline",
                                                "chat",
                                                "webide",
                                                "merge_request_event",
                                                "external_pull_request_event",
                                                "parent_pipeline",
                                                "ondemand_dast_scan",
                                                "ondemand_dast_validation",
                                                "security_orchestration_policy",
                                                "container_registry_push",
                                                "duo_workflow",
                                                "pipeline_execution_policy_schedule",
                                                "unknown"};
const std::set<std::string> kPipelineScopes = {"running", "pending", "finished", "branches",
                                               "tags"};
const std::set<std::string> kJobStatuses = {"created", "pending",  "running", "success",
                                            "failed",  "canceled", "skipped", "manual"};

// A parameter's value when given and one of `allowed`; an error reply when given and not.
std::optional<ApiReply> ReadChoice(const std::map<std::string, std::string>& query,
                                   const std::string& key, const std::set<std::string>& allowed,
                                   std::optional<std::string>* out) {
  auto it = query.find(key);
  if (it == query.end()) return std::nullopt;
  if (!allowed.empty() && !allowed.count(it->second)) return NotValid(key);
  *out = it->second;
  return std::nullopt;
}

int64_t OrderKey(const ListedPipeline& p, PipelineOrder order) {
  switch (order) {
    case PipelineOrder::kUpdatedAt:
      return p.pipeline.updated_at.time_since_epoch().count();
    case PipelineOrder::kUserId:
      return GitLabUserId(p.pipeline.user);
    default:
      return p.pipeline.id;
  }
}

bool Ended(PipelineStatus s) {
  return s == PipelineStatus::kSuccess || s == PipelineStatus::kFailed ||
         s == PipelineStatus::kCanceled;
}

}  // namespace

PipelineListFilterResult ReadPipelineListFilter(const std::map<std::string, std::string>& query) {
  PipelineListFilterResult out;
  PipelineListFilter& f = out.filter;
  std::optional<std::string> order_by, sort;
  if ((out.error = ReadChoice(query, "ref", {}, &f.ref)) ||
      (out.error = ReadChoice(query, "status", kPipelineStatuses, &f.status)) ||
      (out.error = ReadChoice(query, "source", kPipelineSources, &f.source)) ||
      (out.error = ReadChoice(query, "scope", kPipelineScopes, &f.scope)) ||
      (out.error = ReadChoice(query, "order_by", {"id", "status", "ref", "updated_at", "user_id"},
                              &order_by)) ||
      (out.error = ReadChoice(query, "sort", {"asc", "desc"}, &sort))) {
    return out;
  }
  if (order_by == "status") f.order = PipelineOrder::kStatus;
  if (order_by == "ref") f.order = PipelineOrder::kRef;
  if (order_by == "updated_at") f.order = PipelineOrder::kUpdatedAt;
  if (order_by == "user_id") f.order = PipelineOrder::kUserId;
  f.ascending = sort == "asc";
  return out;
}

std::vector<ListedPipeline> SelectPipelines(std::vector<ListedPipeline> pipelines,
                                            const PipelineListFilter& filter) {
  auto keep = [&filter](const ListedPipeline& p) {
    if (filter.ref && p.pipeline.ref != *filter.ref) return false;
    if (filter.status && PipelineStatusName(p.status) != *filter.status) return false;
    if (filter.source && p.pipeline.source != *filter.source) return false;
    if (filter.scope) {
      const std::string& s = *filter.scope;
      if (s == "running" && p.status != PipelineStatus::kRunning) return false;
      if (s == "pending" && p.status != PipelineStatus::kPending) return false;
      if (s == "finished" && !Ended(p.status)) return false;
      if (s == "branches" && p.pipeline.tag) return false;
      if (s == "tags" && !p.pipeline.tag) return false;
    }
    return true;
  };
  std::erase_if(pipelines, [&keep](const ListedPipeline& p) { return !keep(p); });
  auto less = [&filter](const ListedPipeline& a, const ListedPipeline& b) {
    if (filter.order == PipelineOrder::kStatus || filter.order == PipelineOrder::kRef) {
      std::string x =
          filter.order == PipelineOrder::kRef ? a.pipeline.ref : PipelineStatusName(a.status);
      std::string y =
          filter.order == PipelineOrder::kRef ? b.pipeline.ref : PipelineStatusName(b.status);
      if (x != y) return x < y;
    } else {
      int64_t x = OrderKey(a, filter.order);
      int64_t y = OrderKey(b, filter.order);
      if (x != y) return x < y;
    }
    return a.pipeline.id < b.pipeline.id;
  };
  std::stable_sort(pipelines.begin(), pipelines.end(),
                   [&](const ListedPipeline& a, const ListedPipeline& b) {
                     return filter.ascending ? less(a, b) : less(b, a);
                   });
  return pipelines;
}

JobScopesResult ReadJobScopes(const std::map<std::string, std::string>& query) {
  JobScopesResult out;
  for (const char* key : {"scope", "scope[]"}) {
    auto it = query.find(key);
    if (it == query.end()) continue;
    std::stringstream list(it->second);
    std::string s;
    while (std::getline(list, s, ',')) {
      if (!kJobStatuses.count(s)) {
        out.error = NotValid("scope");
        return out;
      }
      out.scopes.insert(s);
    }
  }
  if (auto it = query.find("include_retried"); it != query.end()) {
    if (it->second != "true" && it->second != "false") {
      out.error = NotValid("include_retried");
      return out;
    }
    out.include_retried = it->second == "true";
  }
  return out;
}

}  // namespace sluice
