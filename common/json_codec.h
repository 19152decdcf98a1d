#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/execution.h"
#include "common/record_limits.h"
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

// The largest field of a trigger that its client sent (job name, refs, pulls, envs, labels,
// annotations), for CheckRecordFits' message.
FieldSize LargestTriggerField(const Trigger& t);

// Pieces shared by the request parser and the codecs. The value must already have the shape the
// schema requires (strings where strings are expected); these do not re-validate.
Refs ReadRefs(const rapidjson::Value& v);
PodSpecOptions ReadPodSpecOptions(const rapidjson::Value& v);
void WriteRefs(JsonWriter& w, const Refs& refs);
void WritePodSpecOptions(JsonWriter& w, const PodSpecOptions& p);

// Field helpers. Readers return the type's zero value when the member is missing or of another
// type; writers of optional values write nothing for an empty one.
void WriteStringField(JsonWriter& w, const char* key, const std::string& value);
void WriteOptionalString(JsonWriter& w, const char* key, const std::string& value);
void WriteInt64Field(JsonWriter& w, const char* key, int64_t value);
void WriteStringMap(JsonWriter& w, const char* key, const std::map<std::string, std::string>& m);
void WriteTime(JsonWriter& w, const char* key, const std::optional<TimePoint>& t);
std::string GetString(const rapidjson::Value& obj, const char* key);
std::map<std::string, std::string> ReadStringMap(const rapidjson::Value& obj, const char* key);
std::optional<TimePoint> ReadTime(const rapidjson::Value& obj, const char* key);
int GetInt(const rapidjson::Value& obj, const char* key);
int64_t GetInt64(const rapidjson::Value& obj, const char* key);
bool GetBool(const rapidjson::Value& obj, const char* key);

// Parses text into doc; on failure the message gives the offset and RapidJSON's reason. Text that
// is not valid UTF-8, in a member name or a string (an escaped lone surrogate such as "\udc00"
// included), is refused with a message naming the field ("pod_spec_options.envs.X: not valid
// UTF-8 ..."), so nothing parsed here carries bytes that a reader of our JSON would reject.
Status ParseJson(std::string_view text, rapidjson::Document& doc);

}  // namespace sluice
