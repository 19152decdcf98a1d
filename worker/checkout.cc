#include "worker/checkout.h"

#include <algorithm>
#include <cctype>

namespace sluice {
namespace {

// Identity of the merge commits; they exist only in the job's workspace.
constexpr char kMergeUserName[] = "user.name=sluice";
constexpr char kMergeUserEmail[] = "user.email=sluice@localhost";

bool IsHexSha(const std::string& sha) {
  return sha.size() >= 4 && sha.size() <= 64 &&
         std::all_of(sha.begin(), sha.end(), [](unsigned char c) { return std::isxdigit(c); });
}

Status CheckSha(const std::string& what, const std::string& sha) {
  if (sha.empty() || IsHexSha(sha)) return Status::Ok();
  return InvalidArgument(what + " \"" + sha + "\" is not a hexadecimal commit id");
}

Status CheckNotOption(const std::string& what, const std::string& value) {
  if (!value.empty() && value.front() == '-') {
    return InvalidArgument(what + " \"" + value + "\" must not start with '-'");
  }
  return Status::Ok();
}

std::vector<std::string> Git(const std::string& dir, std::vector<std::string> args) {
  std::vector<std::string> argv = {"git", "-C", dir};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()),
              std::make_move_iterator(args.end()));
  return argv;
}

std::vector<std::string> Fetch(const std::string& dir, const std::string& uri,
                               const std::string& what) {
  return Git(dir, {"fetch", "--quiet", "--", uri, what});
}

}  // namespace

StatusOr<std::vector<std::vector<std::string>>> CheckoutCommands(const Refs& refs,
                                                                 const std::string& dir) {
  std::string uri = CloneUri(refs);
  if (uri.empty()) {
    return InvalidArgument("refs name no repository: clone_uri, repo_link and org/repo are empty");
  }
  if (refs.base_ref.empty() && refs.base_sha.empty()) {
    return InvalidArgument("refs have neither base_ref nor base_sha");
  }
  for (const Status& status :
       {CheckNotOption("clone URI", uri), CheckNotOption("base_ref", refs.base_ref),
        CheckSha("base_sha", refs.base_sha)}) {
    if (!status.ok()) return status;
  }
  for (const Pull& pull : refs.pulls) {
    std::string what = "pull " + std::to_string(pull.number);
    for (const Status& status :
         {CheckNotOption(what + " ref", pull.ref), CheckSha(what + " sha", pull.sha)}) {
      if (!status.ok()) return status;
    }
  }

  std::vector<std::vector<std::string>> commands;
  commands.push_back(Git(dir, {"init", "--quiet"}));
  commands.push_back(Fetch(dir, uri, refs.base_ref.empty() ? refs.base_sha : refs.base_ref));
  commands.push_back(Git(dir, {"checkout", "--quiet", "--detach",
                               refs.base_sha.empty() ? "FETCH_HEAD" : refs.base_sha}));
  for (const Pull& pull : refs.pulls) {
    commands.push_back(Fetch(
        dir, uri, pull.ref.empty() ? "pull/" + std::to_string(pull.number) + "/head" : pull.ref));
    // Merging pull.sha (not FETCH_HEAD) also verifies that the fetch brought that commit.
    commands.push_back(
        Git(dir, {"-c", kMergeUserName, "-c", kMergeUserEmail, "merge", "--quiet", "--no-ff",
                  "--no-edit", pull.sha.empty() ? "FETCH_HEAD" : pull.sha}));
  }
  return commands;
}

}  // namespace sluice
