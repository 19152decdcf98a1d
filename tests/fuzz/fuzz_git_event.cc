// A Git host's webhook delivery after its signature: the event headers and body parsed, matched
// against postsubmits with branch, skip and tag regexes, and its events-topic record written and
// read back (a record that cannot be read back would be a delivery lost after its 2xx).
// Input (tests/fuzz/fuzz_input.h):
//   <host: github, gitlab or gitea>\n<Content-Type>\n<headers>\n\n<body>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "common/git_delivery.h"
#include "gateway/git_event.h"
#include "gateway/webhooks.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

const std::vector<sluice::JobConfig>& Jobs() {
  static const std::vector<sluice::JobConfig>* const jobs = [] {
    auto* out = new std::vector<sluice::JobConfig>(3);
    (*out)[0].name = "any-branch";
    (*out)[0].type = sluice::JobType::kPostsubmit;
    (*out)[1].name = "release";
    (*out)[1].type = sluice::JobType::kPostsubmit;
    (*out)[1].repo = "org/repo";
    (*out)[1].branches = {"^main$", "^release-.*"};
    (*out)[1].skip_branches = {"-wip$"};
    (*out)[2].name = "tags";
    (*out)[2].type = sluice::JobType::kPostsubmit;
    (*out)[2].tags = {"^v[0-9]+\\.[0-9]+"};
    return out;
  }();
  return *jobs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::optional<sluice::GitHost> host = sluice::GitHostFromName(sluice::fuzz::NextLine(&rest));
  if (!host) return -1;  // not an input of this target: kept out of the corpus
  std::string content_type(sluice::fuzz::NextLine(&rest));
  sluice::HeaderMap headers = sluice::fuzz::NextHeaders(&rest);
  std::string body(rest);

  sluice::StatusOr<sluice::GitEvent> event =
      sluice::ParseGitEvent(*host, headers, content_type, body);
  if (!event.ok()) {
    if (event.status().code() != sluice::Code::kInvalidArgument) std::abort();
    return 0;
  }
  // The route refuses a delivery without an id before writing anything (a dry run writes nothing).
  if (event->delivery_id.empty()) return 0;
  sluice::DeliveryRecord record;
  record.event = *event;
  record.received_at = std::chrono::system_clock::time_point(std::chrono::seconds(1795000000));
  record.content_type = content_type;
  record.headers = sluice::DescriptiveHeaders(headers);
  record.body = body;
  record.matches = sluice::MatchPostsubmits(Jobs(), *event);
  if (record.matches.size() != Jobs().size()) std::abort();
  sluice::AssignExecutionIds(*host, event->delivery_id, 0, record.matches);
  (void)record.Key();
  (void)sluice::DeliveryTriggers(record, record.received_at);

  sluice::StatusOr<sluice::DeliveryRecord> decoded =
      sluice::DecodeDeliveryRecord(sluice::EncodeDeliveryRecord(record));
  if (!decoded.ok()) {
    std::fprintf(stderr, "the record does not read back: %s\n", decoded.status().message().c_str());
    std::abort();
  }
  if (!(decoded->event == record.event) || decoded->body != record.body ||
      decoded->matches != record.matches) {
    std::abort();
  }
  return 0;
}
