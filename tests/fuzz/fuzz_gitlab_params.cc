// GitLab's trigger parameters: the query string, and a urlencoded, multipart or JSON body (or one
// of another content type), merged as ReadTriggerParams does; the multipart reader also alone.
// Input (tests/fuzz/fuzz_input.h):
//   <Content-Type>\n<query string>\n<project id>\n<ref from the path, none when empty>\n<body>

#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/gitlab_trigger.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  sluice::TriggerRequest request;
  request.content_type = sluice::fuzz::NextLine(&rest);
  request.query = sluice::ParseUrlEncoded(std::string(sluice::fuzz::NextLine(&rest)));
  request.project_id = sluice::fuzz::NextLine(&rest);
  std::string_view path_ref = sluice::fuzz::NextLine(&rest);
  if (!path_ref.empty()) request.path_ref = std::string(path_ref);
  request.body = rest;

  (void)sluice::ParseMultipartForm(request.content_type, request.body);
  sluice::TriggerParamsResult result = sluice::ReadTriggerParams(request);
  if (result.error) {
    // GitLab's refusals of parameters are 400s with a JSON body.
    if (result.error->status != 400) std::abort();
    rapidjson::Document reply;
    reply.Parse(result.error->body.c_str(), result.error->body.size());
    if (reply.HasParseError() || !reply.IsObject()) std::abort();
    return 0;
  }
  if (request.path_ref && result.params.ref != *request.path_ref) std::abort();
  // TRIGGER_PAYLOAD is handed to the job as JSON: it must parse, and has no member "token"
  // (a parameter "token\u0000x" must stay itself, not become a second "token").
  rapidjson::Document payload;
  payload.Parse(result.params.payload_json.c_str(), result.params.payload_json.size());
  if (payload.HasParseError() || !payload.IsObject() || payload.HasMember("token")) std::abort();
  return 0;
}
