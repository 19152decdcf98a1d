#include "gateway/git_event.h"

#include <rapidjson/document.h>

#include <regex>
#include <sstream>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "common/utf8.h"
#include "gateway/gitlab_trigger.h"

namespace sluice {

namespace {

constexpr std::string_view kZeroSha = "0000000000000000000000000000000000000000";

std::string Header(const HeaderMap& headers, const char* name) {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

// The first of `names` present in `obj`'s nested path, e.g. {"repository", "owner", "login"}.
std::string StringAt(const rapidjson::Value& obj, std::initializer_list<const char*> path) {
  const rapidjson::Value* v = &obj;
  for (const char* key : path) {
    if (!v->IsObject()) return "";
    auto it = v->FindMember(key);
    if (it == v->MemberEnd()) return "";
    v = &it->value;
  }
  return v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : "";
}

bool IsZeroSha(const std::string& sha) { return sha.empty() || sha == kZeroSha; }

// Sets kind, branch and tag from ref and after.
void Classify(GitEvent& e) {
  bool deleted = IsZeroSha(e.sha);
  if (e.ref.rfind("refs/tags/", 0) == 0) {
    e.tag = e.ref.substr(10);
    e.kind = deleted ? GitEvent::Kind::kTagDeleted : GitEvent::Kind::kTagPush;
  } else if (e.ref.rfind("refs/heads/", 0) == 0) {
    e.branch = e.ref.substr(11);
    e.kind = deleted ? GitEvent::Kind::kBranchDeleted : GitEvent::Kind::kBranchPush;
  } else {
    e.kind = GitEvent::Kind::kIgnored;
  }
}

// "org/repo" (GitLab: "group/subgroup/project") into org and repo at the last slash.
void SplitFullName(const std::string& full_name, GitEvent& e) {
  size_t slash = full_name.rfind('/');
  if (slash == std::string::npos) return;
  e.org = full_name.substr(0, slash);
  e.repo = full_name.substr(slash + 1);
}

Status ReadGitHub(const rapidjson::Document& doc, GitEvent& e) {
  // Every event names its repository (an organization's ping may not): it picks the secrets.
  SplitFullName(StringAt(doc, {"repository", "full_name"}), e);
  if (e.event_type == "ping") {
    e.kind = GitEvent::Kind::kPing;
    return Status::Ok();
  }
  if (e.event_type != "push") return Status::Ok();  // create, pull_request, ...: ignored
  e.ref = StringAt(doc, {"ref"});
  e.sha = StringAt(doc, {"after"});
  e.before = StringAt(doc, {"before"});
  e.pusher = StringAt(doc, {"pusher", "name"});
  e.repo_link = StringAt(doc, {"repository", "html_url"});
  e.clone_uri = StringAt(doc, {"repository", "clone_url"});
  e.compare_link = StringAt(doc, {"compare"});
  if (e.ref.empty() || e.org.empty()) {
    return InvalidArgument("push event lacks ref or repository.full_name");
  }
  Classify(e);
  return Status::Ok();
}

Status ReadGitLab(const rapidjson::Document& doc, GitEvent& e) {
  SplitFullName(StringAt(doc, {"project", "path_with_namespace"}), e);
  if (e.event_type != "Push Hook" && e.event_type != "Tag Push Hook") return Status::Ok();
  e.ref = StringAt(doc, {"ref"});
  e.sha = StringAt(doc, {"after"});
  e.before = StringAt(doc, {"before"});
  e.pusher = StringAt(doc, {"user_username"});
  if (e.pusher.empty()) e.pusher = StringAt(doc, {"user_name"});
  e.repo_link = StringAt(doc, {"project", "web_url"});
  e.clone_uri = StringAt(doc, {"project", "git_http_url"});
  if (!e.repo_link.empty() && !IsZeroSha(e.before) && !IsZeroSha(e.sha)) {
    e.compare_link = e.repo_link + "/-/compare/" + e.before + "..." + e.sha;
  }
  if (e.ref.empty() || e.org.empty()) {
    return InvalidArgument(e.event_type + " lacks ref or project.path_with_namespace");
  }
  Classify(e);
  return Status::Ok();
}

Status ReadGitea(const rapidjson::Document& doc, GitEvent& e) {
  SplitFullName(StringAt(doc, {"repository", "full_name"}), e);
  if (e.event_type != "push") return Status::Ok();
  e.ref = StringAt(doc, {"ref"});
  e.sha = StringAt(doc, {"after"});
  e.before = StringAt(doc, {"before"});
  e.pusher = StringAt(doc, {"pusher", "login"});
  if (e.pusher.empty()) e.pusher = StringAt(doc, {"pusher", "username"});
  e.repo_link = StringAt(doc, {"repository", "html_url"});
  e.clone_uri = StringAt(doc, {"repository", "clone_url"});
  e.compare_link = StringAt(doc, {"compare_url"});
  if (e.ref.empty() || e.org.empty()) {
    return InvalidArgument("push event lacks ref or repository.full_name");
  }
  Classify(e);
  return Status::Ok();
}

bool AnySearch(const std::vector<std::string>& patterns, const std::string& text,
               std::string* which) {
  for (const std::string& p : patterns) {
    if (std::regex_search(text, std::regex(p))) {
      *which = p;
      return true;
    }
  }
  return false;
}

std::string JoinQuoted(const std::vector<std::string>& patterns) {
  std::string out;
  for (const std::string& p : patterns) out += (out.empty() ? "" : ", ") + ("\"" + p + "\"");
  return out;
}

using SecretList = std::vector<const WebhookSecret*>;

SecretList HexHmacSigners(const SecretList& secrets, std::string_view body,
                          std::string signature_hex) {
  for (char& c : signature_hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  SecretList signers;
  // Every secret is tried, matched or not, so the time taken does not tell which one signed.
  for (const WebhookSecret* s : secrets) {
    if (ConstantTimeEquals(HexEncode(HmacSha256Raw(s->secret, body)), signature_hex)) {
      signers.push_back(s);
    }
  }
  return signers;
}

StatusOr<SecretList> StandardWebhookSigners(const SecretList& secrets, const HeaderMap& headers,
                                            std::string_view body, TimePoint now,
                                            Duration tolerance) {
  std::string id = Header(headers, "webhook-id");
  std::string timestamp = Header(headers, "webhook-timestamp");
  std::string signatures = Header(headers, "webhook-signature");
  if (id.empty() || timestamp.empty()) {
    return Unauthenticated("webhook-signature needs webhook-id and webhook-timestamp");
  }
  if (timestamp.size() > 12 || timestamp.find_first_not_of("0123456789") != std::string::npos) {
    return Unauthenticated("webhook-timestamp is not Unix seconds");
  }
  // In milliseconds: a TimePoint counts 64-bit nanoseconds, which 12 digits of seconds overflow.
  long long sent_ms = std::stoll(timestamp) * 1000;
  long long now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (sent_ms > now_ms + tolerance.count() || sent_ms < now_ms - tolerance.count()) {
    return Unauthenticated("webhook-timestamp is more than " + FormatDuration(tolerance) +
                           " away from now");
  }
  std::string signed_text = id + "." + timestamp + "." + std::string(body);
  std::vector<bool> signed_by(secrets.size(), false);
  std::istringstream list(signatures);
  std::string entry;
  while (list >> entry) {
    if (entry.rfind("v1,", 0) != 0) continue;
    std::string given = entry.substr(3);
    for (size_t i = 0; i < secrets.size(); ++i) {
      std::string key = secrets[i]->secret;
      if (key.rfind("whsec_", 0) == 0) key = Base64Decode(key.substr(6)).value_or(key);
      if (ConstantTimeEquals(Base64Encode(HmacSha256Raw(key, signed_text)), given)) {
        signed_by[i] = true;
      }
    }
  }
  SecretList signers;
  for (size_t i = 0; i < secrets.size(); ++i) {
    if (signed_by[i]) signers.push_back(secrets[i]);
  }
  if (signers.empty()) return Unauthenticated("webhook-signature matches no configured secret");
  return signers;
}

}  // namespace

std::string GitEventType(GitHost host, const HeaderMap& headers) {
  switch (host) {
    case GitHost::kGitHub:
      return Header(headers, "x-github-event");
    case GitHost::kGitLab:
      return Header(headers, "x-gitlab-event");
    case GitHost::kGitea: {
      std::string type = Header(headers, "x-gitea-event");
      return type.empty() ? Header(headers, "x-forgejo-event") : type;
    }
  }
  return "";
}

std::string GitDeliveryId(GitHost host, const HeaderMap& headers) {
  switch (host) {
    case GitHost::kGitHub:
      return Header(headers, "x-github-delivery");
    case GitHost::kGitLab:
      for (const char* name : {"idempotency-key", "webhook-id", "x-gitlab-event-uuid"}) {
        if (std::string id = Header(headers, name); !id.empty()) return id;
      }
      return "";
    case GitHost::kGitea: {
      std::string id = Header(headers, "x-gitea-delivery");
      return id.empty() ? Header(headers, "x-forgejo-delivery") : id;
    }
  }
  return "";
}

StatusOr<GitEvent> ParseGitEvent(GitHost host, const HeaderMap& headers,
                                 std::string_view content_type, std::string_view body) {
  GitEvent e;
  e.host = host;
  e.event_type = GitEventType(host, headers);
  e.delivery_id = GitDeliveryId(host, headers);
  if (e.event_type.empty()) {
    return InvalidArgument(std::string("the ") + GitHostName(host) +
                           " event type header is missing");
  }
  // Each is kept in the delivery's record, which must be valid UTF-8 to be read back.
  if (!IsValidUtf8(e.event_type) || !IsValidUtf8(e.delivery_id) || !IsValidUtf8(content_type)) {
    return InvalidArgument("the event type, delivery id and Content-Type must be UTF-8");
  }
  std::string json(body);
  std::string type(content_type.substr(0, content_type.find(';')));
  if (type == "application/x-www-form-urlencoded") {
    if (host != GitHost::kGitHub) {
      return InvalidArgument("a form body is GitHub's only; send application/json");
    }
    auto fields = ParseUrlEncoded(json);
    auto payload = fields.find("payload");
    if (payload == fields.end()) return InvalidArgument("the form has no payload field");
    json = payload->second;
  }
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) {
    return InvalidArgument("the event body is not JSON: " + s.message());
  }
  if (!doc.IsObject()) return InvalidArgument("the event body is not a JSON object");
  Status read = host == GitHost::kGitHub   ? ReadGitHub(doc, e)
                : host == GitHost::kGitLab ? ReadGitLab(doc, e)
                                           : ReadGitea(doc, e);
  if (!read.ok()) return read;
  return e;
}

std::vector<const WebhookSecret*> SecretsFor(const WebhookHostConfig& config,
                                             const std::string& org, const std::string& repo,
                                             TimePoint now) {
  std::vector<const WebhookSecret*> out;
  for (const std::string& scope : {org + "/" + repo, org, std::string("*")}) {
    auto it = config.secrets.find(scope);
    if (it == config.secrets.end() || it->second.empty()) continue;
    for (const WebhookSecret& s : it->second) {
      if (s.ValidAt(now)) out.push_back(&s);
    }
    return out;  // the most specific scope decides, even when all its secrets expired
  }
  return out;
}

std::vector<const WebhookSecret*> AllSecrets(const WebhookHostConfig& config, TimePoint now) {
  std::vector<const WebhookSecret*> out;
  for (const auto& [scope, list] : config.secrets) {
    for (const WebhookSecret& s : list) {
      if (s.ValidAt(now)) out.push_back(&s);
    }
  }
  return out;
}

Status VerifyGitEvent(GitHost host, const std::vector<const WebhookSecret*>& secrets,
                      const HeaderMap& headers, std::string_view body, TimePoint now,
                      Duration tolerance) {
  return SigningSecrets(host, secrets, headers, body, now, tolerance).status();
}

bool CarriesSignature(GitHost host, const HeaderMap& headers) {
  switch (host) {
    case GitHost::kGitHub:
      return !Header(headers, "x-hub-signature-256").empty();
    case GitHost::kGitLab:
      return !Header(headers, "webhook-signature").empty() ||
             !Header(headers, "x-gitlab-token").empty();
    case GitHost::kGitea:
      return !Header(headers, "x-gitea-signature").empty() ||
             !Header(headers, "x-forgejo-signature").empty();
  }
  return false;
}

StatusOr<std::vector<const WebhookSecret*>> SigningSecrets(
    GitHost host, const std::vector<const WebhookSecret*>& secrets, const HeaderMap& headers,
    std::string_view body, TimePoint now, Duration tolerance) {
  if (secrets.empty())
    return Unauthenticated("no unexpired secret is configured for this repository");
  SecretList signers;
  switch (host) {
    case GitHost::kGitHub: {
      std::string signature = Header(headers, "x-hub-signature-256");
      if (signature.empty()) return Unauthenticated("X-Hub-Signature-256 is missing");
      if (signature.rfind("sha256=", 0) != 0) {
        return Unauthenticated("X-Hub-Signature-256 does not start with sha256=");
      }
      signers = HexHmacSigners(secrets, body, signature.substr(7));
      if (signers.empty()) {
        return Unauthenticated("X-Hub-Signature-256 matches no configured secret");
      }
      return signers;
    }
    case GitHost::kGitLab: {
      if (!Header(headers, "webhook-signature").empty()) {
        return StandardWebhookSigners(secrets, headers, body, now, tolerance);
      }
      std::string token = Header(headers, "x-gitlab-token");
      if (token.empty()) {
        return Unauthenticated("X-Gitlab-Token (or webhook-signature) is missing");
      }
      for (const WebhookSecret* s : secrets) {
        if (ConstantTimeEquals(s->secret, token)) signers.push_back(s);
      }
      if (signers.empty()) return Unauthenticated("X-Gitlab-Token matches no configured secret");
      return signers;
    }
    case GitHost::kGitea: {
      std::string signature = Header(headers, "x-gitea-signature");
      if (signature.empty()) signature = Header(headers, "x-forgejo-signature");
      if (signature.empty()) return Unauthenticated("X-Gitea-Signature is missing");
      signers = HexHmacSigners(secrets, body, signature);
      if (signers.empty()) {
        return Unauthenticated("X-Gitea-Signature matches no configured secret");
      }
      return signers;
    }
  }
  return Unauthenticated("unknown host");
}

std::string WhyNothingTriggers(const GitEvent& event) {
  switch (event.kind) {
    case GitEvent::Kind::kPing:
      return "a ping only checks the hook; it triggers nothing";
    case GitEvent::Kind::kBranchDeleted:
      return "branch " + event.branch + " was deleted; a deletion triggers nothing";
    case GitEvent::Kind::kTagDeleted:
      return "tag " + event.tag + " was deleted; a deletion triggers nothing";
    case GitEvent::Kind::kIgnored:
      if (!event.ref.empty()) {
        return "ref \"" + event.ref +
               "\" is neither a branch nor a tag; only branch and tag pushes trigger jobs";
      }
      return "event \"" + event.event_type +
             "\" is ignored: only push and tag push events trigger jobs";
    case GitEvent::Kind::kBranchPush:
    case GitEvent::Kind::kTagPush:
      break;
  }
  return "";
}

std::vector<JobMatch> MatchPostsubmits(const std::vector<JobConfig>& jobs, const GitEvent& event) {
  std::vector<JobMatch> out;
  for (const JobConfig& job : jobs) {
    if (job.type != JobType::kPostsubmit) continue;
    JobMatch m;
    m.job = job.name;
    std::string which;
    if (event.kind != GitEvent::Kind::kBranchPush && event.kind != GitEvent::Kind::kTagPush) {
      m.reason = WhyNothingTriggers(event);
    } else if (!job.repo.empty() && job.repo != event.FullName()) {
      m.reason =
          "repo differs: the job builds " + job.repo + ", the push is to " + event.FullName();
    } else if (event.kind == GitEvent::Kind::kTagPush) {
      if (job.tags.empty()) {
        m.reason = "tag rule: the job has no tags, so tag pushes do not trigger it";
      } else if (!AnySearch(job.tags, event.tag, &which)) {
        m.reason = "tag rule: " + event.tag + " matches none of " + JoinQuoted(job.tags);
      } else {
        m.matched = true;
        m.reason = "tag " + event.tag + " matches \"" + which + "\"";
      }
    } else if (job.branches.empty() && !job.tags.empty()) {
      m.reason =
          "branch rule: the job has tags but no branches, so branch pushes do not trigger it";
    } else if (AnySearch(job.skip_branches, event.branch, &which)) {
      m.reason = "skip_branches: " + event.branch + " matches \"" + which + "\"";
    } else if (!job.branches.empty() && !AnySearch(job.branches, event.branch, &which)) {
      m.reason = "branch regex: " + event.branch + " matches none of " + JoinQuoted(job.branches);
    } else {
      m.matched = true;
      m.reason = job.branches.empty() ? "any branch"
                                      : "branch " + event.branch + " matches \"" + which + "\"";
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace sluice
