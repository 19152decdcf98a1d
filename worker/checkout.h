#pragma once

#include <string>
#include <vector>

#include "common/execution.h"
#include "common/status.h"

namespace sluice {

// The git commands that check out `refs` for a `clone: true` job, as argv lists to run in order;
// the first failing command fails the checkout. `dir` must be an existing EMPTY directory. Every
// command names it with `git -C <dir>`, so they do not depend on the working directory they are
// run in.
//
// Fetch strategy, as Prow's clonerefs: fetch a ref, then use the sha.
//   git init; git fetch <uri> <base_ref>; git checkout --detach <base_sha>
//   per pull: git fetch <uri> <pull.ref or "pull/<number>/head">; git merge --no-ff <pull.sha>
// Fetching by ref works against every server (GitHub, plain local repositories given as a path
// or file:// URI), whereas fetching an unadvertised sha depends on server settings. It needs
// base_sha to be reachable from base_ref (and pull.sha from the pull's ref); when it is not, the
// checkout (or merge) fails instead of building something else. Without base_sha, the fetched
// base_ref tip (FETCH_HEAD) is used; without base_ref, base_sha itself is fetched. Without
// pull.sha, the fetched pull ref is merged. Histories are fetched in full (merges need them).
//
// Clone URI: refs.clone_uri if set, else refs.repo_link, else "https://github.com/<org>/<repo>".
// Errors (InvalidArgument): no URI can be derived, neither base_ref nor base_sha, a sha that is
// not 4 to 64 hex digits, or a URI or ref that starts with '-' (it would be read as an option).
//
// The caller runs the commands with an environment that keeps git from prompting
// (GIT_TERMINAL_PROMPT=0) and from reading machine-wide configuration if that is wanted
// (GIT_CONFIG_NOSYSTEM=1).
StatusOr<std::vector<std::vector<std::string>>> CheckoutCommands(const Refs& refs,
                                                                 const std::string& dir);

}  // namespace sluice
