#pragma once

#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace sluice {

// Authorization header -> the configured client it identifies. A missing header, one that is not
// "Bearer <token>" (scheme case-insensitive, surrounding whitespace tolerated) or an unknown token
// is kUnauthenticated; messages never echo the token. The SHA-256 of the token is compared with
// every client's token_sha256 in constant time, without stopping at the first match.
StatusOr<const ClientConfig*> Authenticate(const Config& config,
                                           std::string_view authorization_header);

// Whether text matches pattern, where '*' matches any run of characters (possibly empty) and
// every other character matches itself.
bool GlobMatch(std::string_view pattern, std::string_view text);

// Whether one of the client's allow_jobs patterns matches job_name.
bool ClientMayUseJob(const ClientConfig& client, std::string_view job_name);

// Authorization to trigger job_name: kPermissionDenied (403) when the client's allow_jobs do not
// cover it, then kNotFound (404) when no job has that name, else the job. Permission comes first
// so that a client cannot learn which jobs exist outside its allow_jobs.
StatusOr<const JobConfig*> AuthorizeJob(const Config& config, const ClientConfig& client,
                                        std::string_view job_name);

}  // namespace sluice
