#pragma once

// Push and tag webhooks of Git hosts (GitHub, GitLab, Gitea/Forgejo): who signed them, what
// they say, and which postsubmit jobs they trigger and why the others do not. Pure functions:
// the route that uses them (issue 5) stays thin.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/git_delivery.h"
#include "common/status.h"

namespace sluice {

// Request headers by lower-case name.
using HeaderMap = std::map<std::string, std::string>;

// The event type and delivery id headers of each host:
//   GitHub: X-GitHub-Event, X-GitHub-Delivery;
//   GitLab: X-Gitlab-Event; Idempotency-Key, else webhook-id, else X-Gitlab-Event-UUID;
//   Gitea:  X-Gitea-Event (X-Forgejo-Event), X-Gitea-Delivery (X-Forgejo-Delivery).
std::string GitEventType(GitHost host, const HeaderMap& headers);
std::string GitDeliveryId(GitHost host, const HeaderMap& headers);

// Reads an event's body: JSON, or for GitHub also a form whose `payload` field holds the JSON.
// INVALID_ARGUMENT names what is missing or malformed.
StatusOr<GitEvent> ParseGitEvent(GitHost host, const HeaderMap& headers,
                                 std::string_view content_type, std::string_view body);

// The secrets that apply to a repository: those of the most specific scope that has any
// ("org/repo", then "org", then "*"), without the expired ones. Empty when none applies.
std::vector<const WebhookSecret*> SecretsFor(const WebhookHostConfig& config,
                                             const std::string& org, const std::string& repo,
                                             TimePoint now);

// Every unexpired secret of the host, whatever its scope: the candidates a delivery's signature
// is checked against before its body is read (the body's repository then narrows them).
std::vector<const WebhookSecret*> AllSecrets(const WebhookHostConfig& config, TimePoint now);

// Whether one of `secrets` signed the request, in constant time per comparison:
//   GitHub: X-Hub-Signature-256 "sha256=<hex HMAC-SHA256(secret, body)>";
//   GitLab: X-Gitlab-Token equal to the secret, or Standard Webhooks: webhook-id,
//     webhook-timestamp (Unix seconds, within `tolerance` of now) and webhook-signature
//     "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" (several, space-separated, may be
//     given); the key is the secret, or for a "whsec_" secret its base64-decoded rest;
//   Gitea:  X-Gitea-Signature or X-Forgejo-Signature "<hex HMAC-SHA256(secret, body)>".
// UNAUTHENTICATED with the reason (which header is missing, or that no secret matches; never a
// secret or a signature) otherwise.
Status VerifyGitEvent(GitHost host, const std::vector<const WebhookSecret*>& secrets,
                      const HeaderMap& headers, std::string_view body, TimePoint now,
                      Duration tolerance);
// As VerifyGitEvent, over the raw body (nothing of it is parsed), and answers which of `secrets`
// signed it (several when one secret is configured in several scopes). Every secret is tried.
// Whether the delivery carries the host's signature (or token) header at all, valid or not.
bool CarriesSignature(GitHost host, const HeaderMap& headers);

StatusOr<std::vector<const WebhookSecret*>> SigningSecrets(
    GitHost host, const std::vector<const WebhookSecret*>& secrets, const HeaderMap& headers,
    std::string_view body, TimePoint now, Duration tolerance);

// Why `event` starts no job, as a sentence ("event \"issues\" is ignored: only push and tag push
// events trigger jobs"); empty for branch and tag pushes, which may.
std::string WhyNothingTriggers(const GitEvent& event);

// Every postsubmit job against the event, in config order. A branch push matches a job whose
// `repo` is the event's (or empty), no `skip_branches` regex finds the branch and, when the job
// has `branches`, one of them finds it (a job with `tags` and no `branches` is for tags only); a
// tag push matches a job of the repo one of whose `tags` finds the tag. Deletions, pings and
// ignored events match nothing. Regexes search (as Prow's).
std::vector<JobMatch> MatchPostsubmits(const std::vector<JobConfig>& jobs, const GitEvent& event);

}  // namespace sluice
