#pragma once

// What GitLab's API says about projects and the caller, from the configuration: the project
// object (GET /projects/:id, GET /projects), the current user (GET /user) and the version
// (GET /version). Pure functions of the config; gitlab_api.cc serves them.

#include <string>
#include <vector>

#include "common/config.h"
#include "common/json_codec.h"
#include "gateway/api.h"

namespace sluice {

// gateway.public_url without a trailing '/': the base of every web_url and Link.
std::string PublicBaseUrl(const GatewayConfig& gateway);

// GitLab's access level of a project role: reporter 20, developer 30, maintainer 40.
int GitLabAccessLevel(ProjectRole role);

// The projects `client` is a member of, by id.
std::vector<const ProjectConfig*> MemberProjects(const Config& config, const std::string& client);

// GitLab's project object as a member with `role` sees it: id, name, path, path_with_namespace,
// name_with_namespace, namespace, default_branch (the first branch of refs that is not a
// glob, else null), web_url, permissions, and GitLab's other fields where the configuration
// says nothing (created_at and last_activity_at null, visibility private, ...).
std::string GitLabProjectJson(const Config& config, const ProjectConfig& project, ProjectRole role);
void WriteGitLabProject(JsonWriter& w, const Config& config, const ProjectConfig& project,
                        ProjectRole role);

// GitLab's current-user object (GET /user) for a client: its config name as username and name.
std::string GitLabCurrentUserJson(const Config& config, const ClientConfig& client);

// GET /version: {"version", "revision"}. The version is that of GitLab's API whose subset Sluice
// follows, marked as Sluice's ("18.0.0-sluice"), so a client's version checks see a modern API.
std::string GitLabVersionJson();

// The answers of the routes, for an authenticated client (the handlers answer 401 before):
// GET /user, GET /version, GET /projects (the client's, paginated) and GET /projects/:id (for a
// member with `role`).
ApiReply CurrentUserReply(const Config& config, const ClientConfig& client);
ApiReply VersionReply();
ApiReply ProjectsReply(const Config& config, const ApiRequest& request, const ClientConfig& client);
ApiReply ProjectReply(const Config& config, const ProjectConfig& project, ProjectRole role);

}  // namespace sluice
