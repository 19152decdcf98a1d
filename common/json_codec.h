#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "common/execution.h"
#include "common/status.h"

namespace sluice {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// The one JSON helper set: every JSON that Sluice reads or writes goes through these.

// Error body of the HTTP contract: {"code": <canonical code>, "message": ..., "details": []}.
std::string ErrorJson(const Status& status);

// Prow's JobExecution as the API answers it. job_url is <public_url>/v1/executions/<id>.
void WriteExecutionApi(JsonWriter& w, const Execution& e, const std::string& public_url);
std::string ExecutionApiJson(const Execution& e, const std::string& public_url);

// Kafka payloads. Decoding rejects what it cannot read; unknown fields are ignored so that a newer
// writer does not break an older reader.
std::string EncodeExecutionRecord(const Execution& e);
StatusOr<Execution> DecodeExecutionRecord(std::string_view json);
std::string EncodeTrigger(const Trigger& t);
StatusOr<Trigger> DecodeTrigger(std::string_view json);

// Pieces shared by the request parser and the codecs. The value must already have the shape the
// schema requires (strings where strings are expected); these do not re-validate.
Refs ReadRefs(const rapidjson::Value& v);
PodSpecOptions ReadPodSpecOptions(const rapidjson::Value& v);
void WriteRefs(JsonWriter& w, const Refs& refs);
void WritePodSpecOptions(JsonWriter& w, const PodSpecOptions& p);

// Parses text into doc; on failure the message gives the offset and RapidJSON's reason.
Status ParseJson(std::string_view text, rapidjson::Document& doc);

}  // namespace sluice
