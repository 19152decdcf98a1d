#include "gateway/gitlab_projects.h"

#include <algorithm>
#include <utility>

#include "gateway/gitlab_pagination.h"
#include "gateway/gitlab_replies.h"

namespace sluice {

namespace {

// "group/sub/project" -> namespace "group/sub", name "project".
std::pair<std::string, std::string> SplitPath(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// "group/sub" -> "group / sub", as GitLab joins names.
std::string HumanPath(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '/') {
      out += " / ";
    } else {
      out += c;
    }
  }
  return out;
}

void WriteNull(JsonWriter& w, const char* key) {
  w.Key(key);
  w.Null();
}

void WriteBool(JsonWriter& w, const char* key, bool value) {
  w.Key(key);
  w.Bool(value);
}

}  // namespace

std::string PublicBaseUrl(const GatewayConfig& gateway) {
  std::string base = gateway.public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

int GitLabAccessLevel(ProjectRole role) {
  switch (role) {
    case ProjectRole::kReporter:
      return 20;
    case ProjectRole::kDeveloper:
      return 30;
    case ProjectRole::kMaintainer:
      return 40;
  }
  return 20;
}

std::vector<const ProjectConfig*> MemberProjects(const Config& config, const std::string& client) {
  std::vector<const ProjectConfig*> out;
  for (const ProjectConfig& p : config.projects) {
    if (p.members.count(client)) out.push_back(&p);
  }
  std::sort(out.begin(), out.end(),
            [](const ProjectConfig* a, const ProjectConfig* b) { return a->id < b->id; });
  return out;
}

void WriteGitLabProject(JsonWriter& w, const Config& config, const ProjectConfig& project,
                        ProjectRole role) {
  std::string base = PublicBaseUrl(config.gateway);
  auto [ns, name] = SplitPath(project.path);
  std::string web_url = base + "/" + project.path;
  std::string api = base + "/api/v4/projects/" + std::to_string(project.id);
  w.StartObject();
  WriteInt64Field(w, "id", project.id);
  WriteNull(w, "description");
  WriteStringField(w, "name", name);
  WriteStringField(w, "name_with_namespace", HumanPath(project.path));
  WriteStringField(w, "path", name);
  WriteStringField(w, "path_with_namespace", project.path);
  WriteNull(w, "created_at");
  w.Key("default_branch");
  const std::string* branch = nullptr;
  for (const std::string& b : project.branches) {
    if (b.find('*') == std::string::npos) {
      branch = &b;
      break;
    }
  }
  if (branch) {
    w.String(branch->c_str(), static_cast<rapidjson::SizeType>(branch->size()));
  } else {
    w.Null();
  }
  w.Key("tag_list");
  w.StartArray();
  w.EndArray();
  w.Key("topics");
  w.StartArray();
  w.EndArray();
  WriteNull(w, "ssh_url_to_repo");
  w.Key("http_url_to_repo");
  if (project.repository.empty()) {
    w.Null();
  } else {
    w.String(project.repository.c_str());
  }
  WriteStringField(w, "web_url", web_url);
  WriteNull(w, "readme_url");
  WriteNull(w, "avatar_url");
  WriteInt64Field(w, "forks_count", 0);
  WriteInt64Field(w, "star_count", 0);
  WriteNull(w, "last_activity_at");
  w.Key("namespace");
  w.StartObject();
  WriteInt64Field(w, "id", GitLabUserId("namespace:" + ns));
  WriteStringField(w, "name", SplitPath(ns).second);
  WriteStringField(w, "path", SplitPath(ns).second);
  WriteStringField(w, "kind", "group");
  WriteStringField(w, "full_path", ns);
  WriteNull(w, "parent_id");
  WriteNull(w, "avatar_url");
  WriteStringField(w, "web_url", base + "/groups/" + ns);
  w.EndObject();
  w.Key("_links");
  w.StartObject();
  WriteStringField(w, "self", api);
  WriteStringField(w, "repo_branches", api + "/repository/branches");
  WriteStringField(w, "members", api + "/members");
  w.EndObject();
  WriteBool(w, "empty_repo", project.repository.empty());
  WriteBool(w, "archived", false);
  WriteStringField(w, "visibility", "private");
  WriteBool(w, "jobs_enabled", true);
  WriteBool(w, "builds_enabled", true);
  WriteStringField(w, "ci_config_path", "");
  w.Key("permissions");
  w.StartObject();
  w.Key("project_access");
  w.StartObject();
  WriteInt64Field(w, "access_level", GitLabAccessLevel(role));
  WriteInt64Field(w, "notification_level", 3);
  w.EndObject();
  WriteNull(w, "group_access");
  w.EndObject();
  w.EndObject();
}

std::string GitLabProjectJson(const Config& config, const ProjectConfig& project,
                              ProjectRole role) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteGitLabProject(w, config, project, role);
  return buf.GetString();
}

std::string GitLabCurrentUserJson(const Config& config, const ClientConfig& client) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteInt64Field(w, "id", GitLabUserId(client.name));
  WriteStringField(w, "username", client.name);
  WriteStringField(w, "name", client.name);
  WriteStringField(w, "state", "active");
  WriteBool(w, "locked", false);
  WriteNull(w, "avatar_url");
  // python-gitlab's auth() compares this with its own URL to spot a misconfigured public_url.
  WriteStringField(w, "web_url", PublicBaseUrl(config.gateway) + "/" + client.name);
  WriteNull(w, "created_at");
  WriteBool(w, "is_admin", client.admin);
  WriteBool(w, "bot", false);
  w.EndObject();
  return buf.GetString();
}

std::string GitLabVersionJson() {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "version", "18.0.0-sluice");
  WriteStringField(w, "revision", "sluice");
  WriteBool(w, "enterprise", false);
  w.EndObject();
  return buf.GetString();
}

ApiReply CurrentUserReply(const Config& config, const ClientConfig& client) {
  return JsonReply(200, GitLabCurrentUserJson(config, client));
}

ApiReply VersionReply() { return JsonReply(200, GitLabVersionJson()); }

ApiReply ProjectsReply(const Config& config, const ApiRequest& request,
                       const ClientConfig& client) {
  // `membership=true` or not, a client sees only its projects: Sluice has no public ones.
  std::vector<const ProjectConfig*> projects = MemberProjects(config, client.name);
  return PagedJsonList(
      request, config.gateway.public_url, projects.size(), [&](JsonWriter& w, size_t i) {
        WriteGitLabProject(w, config, *projects[i], projects[i]->members.at(client.name));
      });
}

ApiReply ProjectReply(const Config& config, const ProjectConfig& project, ProjectRole role) {
  return JsonReply(200, GitLabProjectJson(config, project, role));
}

}  // namespace sluice
