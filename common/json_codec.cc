#include "common/json_codec.h"

#include <rapidjson/error/en.h>

#include <cmath>

#include "common/utf8.h"

namespace sluice {

void WriteStringField(JsonWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

void WriteOptionalString(JsonWriter& w, const char* key, const std::string& value) {
  if (!value.empty()) WriteStringField(w, key, value);
}

void WriteInt64Field(JsonWriter& w, const char* key, int64_t value) {
  w.Key(key);
  w.Int64(value);
}

void WriteStringMap(JsonWriter& w, const char* key, const std::map<std::string, std::string>& m) {
  w.Key(key);
  w.StartObject();
  for (const auto& [k, v] : m) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
}

void WriteTime(JsonWriter& w, const char* key, const std::optional<TimePoint>& t) {
  if (t) WriteStringField(w, key, FormatRfc3339(*t));
}

std::string GetString(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::map<std::string, std::string> ReadStringMap(const rapidjson::Value& obj, const char* key) {
  std::map<std::string, std::string> out;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsObject()) return out;
  for (const auto& m : it->value.GetObject()) {
    if (m.value.IsString()) {
      out[std::string(m.name.GetString(), m.name.GetStringLength())] =
          std::string(m.value.GetString(), m.value.GetStringLength());
    }
  }
  return out;
}

std::optional<TimePoint> ReadTime(const rapidjson::Value& obj, const char* key) {
  std::string s = GetString(obj, key);
  if (s.empty()) return std::nullopt;
  return ParseRfc3339(s);
}

int GetInt(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt()) return 0;
  return it->value.GetInt();
}

int64_t GetInt64(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt64()) return 0;
  return it->value.GetInt64();
}

bool GetBool(const rapidjson::Value& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

namespace {

void WritePipelineIds(JsonWriter& w, int64_t pipeline_id, int64_t project_id) {
  if (pipeline_id == 0) return;
  WriteInt64Field(w, "pipeline_id", pipeline_id);
  WriteInt64Field(w, "project_id", project_id);
}

void WriteBookkeeping(JsonWriter& w, const Execution& e) {
  WriteOptionalString(w, "client", e.client);
  WriteOptionalString(w, "fingerprint", e.fingerprint);
  WriteOptionalString(w, "worker", e.worker);
  w.Key("attempt");
  w.Int(e.attempt);
  WriteTime(w, "heartbeat_time", e.heartbeat_time);
  if (e.takes_over) {
    w.Key("takes_over");
    w.StartObject();
    WriteStringField(w, "worker", e.takes_over->worker);
    w.Key("attempt");
    w.Int(e.takes_over->attempt);
    WriteTime(w, "heartbeat_time", e.takes_over->heartbeat_time);
    w.EndObject();
  }
  WritePipelineIds(w, e.pipeline_id, e.project_id);
  WriteOptionalString(w, "job_token_sha256", e.job_token_sha256);
}

}  // namespace

namespace {

// Deepest nesting of arrays and objects in `text`, ignoring brackets inside strings.
int NestingDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// A member name as a field path spells it: bare when it is an identifier, else a JSON string of
// what may be echoed of it.
std::string PathSegment(std::string_view name) {
  bool identifier = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name) {
    identifier = identifier && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '_');
  }
  if (identifier) return std::string(name);
  std::string echo = EchoValue(name);
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.String(echo.c_str(), static_cast<rapidjson::SizeType>(echo.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

// Prepends `head` (a member name's segment or "[i]") to the path found below it.
void PrependPath(std::string head, std::string* path) {
  if (!path->empty() && path->front() != '[') head += '.';
  *path = head + *path;
}

// Whether some member name or string in v is not valid UTF-8, or some number is beyond a
// double's range (RapidJSON 1.1 reads "1e400" as infinity, which no writer can put back);
// *path is then where, spelled as messages spell fields ("refs.pulls[0].sha"), empty for v
// itself. Recursion is bounded by ParseJson's depth limit.
bool FindInvalidUtf8(const rapidjson::Value& v, std::string* path) {
  if (v.IsString()) return !IsValidUtf8(std::string_view(v.GetString(), v.GetStringLength()));
  if (v.IsDouble()) return !std::isfinite(v.GetDouble());
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (!IsValidUtf8(name)) {
        *path = PathSegment(name);
        return true;
      }
      if (FindInvalidUtf8(m.value, path)) {
        PrependPath(PathSegment(name), path);
        return true;
      }
    }
  } else if (v.IsArray()) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
      if (FindInvalidUtf8(v[i], path)) {
        PrependPath("[" + std::to_string(i) + "]", path);
        return true;
      }
    }
  }
  return false;
}

Status InvalidUtf8(const std::string& path) {
  return InvalidArgument((path.empty() ? std::string("request body") : path) +
                         ": not valid UTF-8 text (invalid bytes, or an escaped lone surrogate "
                         "such as \\udc00), or a number out of range; send text as UTF-8");
}

}  // namespace

FieldSize LargestTriggerField(const Trigger& t) {
  FieldSize largest{"job_name", t.job_name.size()};
  auto consider = [&largest](FieldSize candidate) {
    if (candidate.bytes > largest.bytes) largest = std::move(candidate);
  };
  if (t.refs) {
    const Refs& r = *t.refs;
    const std::pair<const char*, const std::string*> fields[] = {{"org", &r.org},
                                                                 {"repo", &r.repo},
                                                                 {"repo_link", &r.repo_link},
                                                                 {"base_ref", &r.base_ref},
                                                                 {"base_sha", &r.base_sha},
                                                                 {"base_link", &r.base_link},
                                                                 {"path_alias", &r.path_alias},
                                                                 {"clone_uri", &r.clone_uri}};
    for (const auto& [name, value] : fields) {
      consider({std::string("refs.") + name, value->size()});
    }
    for (size_t i = 0; i < r.pulls.size(); ++i) {
      const Pull& p = r.pulls[i];
      for (const auto& [name, value] :
           {std::pair{"author", &p.author}, std::pair{"sha", &p.sha}, std::pair{"title", &p.title},
            std::pair{"ref", &p.ref}, std::pair{"link", &p.link},
            std::pair{"commit_link", &p.commit_link}, std::pair{"author_link", &p.author_link}}) {
        consider({"refs.pulls[" + std::to_string(i) + "]." + name, value->size()});
      }
    }
  }
  const PodSpecOptions& o = t.pod_spec_options;
  consider(LargestEntry(o.envs, "pod_spec_options.envs"));
  consider(LargestEntry(o.labels, "pod_spec_options.labels"));
  consider(LargestEntry(o.annotations, "pod_spec_options.annotations"));
  return largest;
}

Status ParseJson(std::string_view text, rapidjson::Document& doc) {
  // Walking a document (schema validation, Accept) recurses once per level: refuse absurd depth
  // before it can exhaust a network thread's stack.
  constexpr int kMaxDepth = 64;
  if (NestingDepth(text) > kMaxDepth) {
    return InvalidArgument("request body nests arrays or objects deeper than " +
                           std::to_string(kMaxDepth) + " levels");
  }
  // Iterative: a deeply nested body must not exhaust the stack of a network thread.
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                    text.size());
  std::string path;
  if (doc.HasParseError() && doc.GetParseError() == rapidjson::kParseErrorStringInvalidEncoding) {
    // RapidJSON gives only an offset; parsed without the check, the document shows which field
    // holds the bytes.
    rapidjson::Document unchecked;
    unchecked.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (!unchecked.HasParseError() && FindInvalidUtf8(unchecked, &path)) return InvalidUtf8(path);
    return InvalidArgument("request body: not valid UTF-8 at offset " +
                           std::to_string(doc.GetErrorOffset()) + "; send text as UTF-8");
  }
  if (doc.HasParseError()) {
    return InvalidArgument("request body is not valid JSON: " +
                           std::string(rapidjson::GetParseError_En(doc.GetParseError())) +
                           " at offset " + std::to_string(doc.GetErrorOffset()));
  }
  // RapidJSON 1.1 decodes an escaped lone low surrogate ("\udc00") into the three bytes of a
  // surrogate, which no UTF-8 reader accepts; only a walk over the parsed strings finds them.
  if (FindInvalidUtf8(doc, &path)) return InvalidUtf8(path);
  return Status::Ok();
}

std::string ErrorJson(const Status& status) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("code");
  w.Int(static_cast<int>(status.code()));
  // The last guard of "nothing served that is not UTF-8": a message that quoted caller bytes
  // without EchoValue still reads as text.
  WriteStringField(
      w, "message",
      IsValidUtf8(status.message()) ? status.message() : ReplaceInvalidUtf8(status.message()));
  w.Key("details");
  w.StartArray();
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

void WriteRefs(JsonWriter& w, const Refs& r) {
  w.StartObject();
  WriteStringField(w, "org", r.org);
  WriteStringField(w, "repo", r.repo);
  WriteOptionalString(w, "repo_link", r.repo_link);
  WriteStringField(w, "base_ref", r.base_ref);
  WriteStringField(w, "base_sha", r.base_sha);
  WriteOptionalString(w, "base_link", r.base_link);
  if (!r.pulls.empty()) {
    w.Key("pulls");
    w.StartArray();
    for (const Pull& p : r.pulls) {
      w.StartObject();
      w.Key("number");
      w.Int(p.number);
      WriteOptionalString(w, "author", p.author);
      WriteStringField(w, "sha", p.sha);
      WriteOptionalString(w, "title", p.title);
      WriteOptionalString(w, "ref", p.ref);
      WriteOptionalString(w, "link", p.link);
      WriteOptionalString(w, "commit_link", p.commit_link);
      WriteOptionalString(w, "author_link", p.author_link);
      w.EndObject();
    }
    w.EndArray();
  }
  WriteOptionalString(w, "path_alias", r.path_alias);
  WriteOptionalString(w, "clone_uri", r.clone_uri);
  w.EndObject();
}

Refs ReadRefs(const rapidjson::Value& v) {
  Refs r;
  r.org = GetString(v, "org");
  r.repo = GetString(v, "repo");
  r.repo_link = GetString(v, "repo_link");
  r.base_ref = GetString(v, "base_ref");
  r.base_sha = GetString(v, "base_sha");
  r.base_link = GetString(v, "base_link");
  r.path_alias = GetString(v, "path_alias");
  r.clone_uri = GetString(v, "clone_uri");
  auto pulls = v.FindMember("pulls");
  if (pulls != v.MemberEnd() && pulls->value.IsArray()) {
    for (const auto& pv : pulls->value.GetArray()) {
      if (!pv.IsObject()) continue;
      Pull p;
      p.number = GetInt(pv, "number");
      p.author = GetString(pv, "author");
      p.sha = GetString(pv, "sha");
      p.title = GetString(pv, "title");
      p.ref = GetString(pv, "ref");
      p.link = GetString(pv, "link");
      p.commit_link = GetString(pv, "commit_link");
      p.author_link = GetString(pv, "author_link");
      r.pulls.push_back(std::move(p));
    }
  }
  return r;
}

void WritePodSpecOptions(JsonWriter& w, const PodSpecOptions& p) {
  w.StartObject();
  WriteStringMap(w, "envs", p.envs);
  WriteStringMap(w, "labels", p.labels);
  WriteStringMap(w, "annotations", p.annotations);
  w.EndObject();
}

PodSpecOptions ReadPodSpecOptions(const rapidjson::Value& v) {
  PodSpecOptions p;
  p.envs = ReadStringMap(v, "envs");
  p.labels = ReadStringMap(v, "labels");
  p.annotations = ReadStringMap(v, "annotations");
  return p;
}

namespace {

// The fields of Prow's JobExecution that the API and the results record share.
void WriteExecutionFields(JsonWriter& w, const Execution& e) {
  WriteStringField(w, "id", e.id);
  WriteStringField(w, "job_name", e.job_name);
  WriteStringField(w, "job_type", JobTypeName(e.job_type));
  WriteStringField(w, "job_status", JobStatusName(e.job_status));
  if (e.refs) {
    w.Key("refs");
    WriteRefs(w, *e.refs);
  }
  w.Key("pod_spec_options");
  WritePodSpecOptions(w, e.pod_spec_options);
  WriteStringField(w, "gcs_path", e.gcs_path);
  WriteTime(w, "create_time", e.create_time);
  WriteTime(w, "start_time", e.start_time);
  WriteTime(w, "completion_time", e.completion_time);
}

}  // namespace

void WriteExecutionApi(JsonWriter& w, const Execution& e, const std::string& public_url) {
  w.StartObject();
  WriteExecutionFields(w, e);
  std::string base = public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  WriteStringField(w, "job_url", base + "/v1/executions/" + e.id);
  WriteOptionalString(w, "message", e.message);
  // Sluice's own, beyond Prow's fields: who triggered it, from where, and which run of it is
  // the current one on which worker (the dashboard's filters and timeline).
  WriteOptionalString(w, "client", e.client);
  WriteStringField(w, "source", std::string(ExecutionSource(e.id, e.client)));
  WriteOptionalString(w, "worker", e.worker);
  if (e.attempt > 0) {
    w.Key("attempt");
    w.Int(e.attempt);
  }
  WriteTime(w, "heartbeat_time", e.heartbeat_time);
  w.EndObject();
}

std::string ExecutionApiJson(const Execution& e, const std::string& public_url) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteExecutionApi(w, e, public_url);
  return buf.GetString();
}

std::string EncodeExecutionRecord(const Execution& e) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteExecutionFields(w, e);
  WriteOptionalString(w, "message", e.message);
  WriteBookkeeping(w, e);
  w.EndObject();
  return buf.GetString();
}

StatusOr<Execution> DecodeExecutionRecord(std::string_view json) {
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) return s;
  if (!doc.IsObject()) return InvalidArgument("execution record is not a JSON object");
  Execution e;
  e.id = GetString(doc, "id");
  e.job_name = GetString(doc, "job_name");
  auto type = JobTypeFromName(GetString(doc, "job_type"));
  auto status = JobStatusFromName(GetString(doc, "job_status"));
  if (e.id.empty() || !type || !status) {
    return InvalidArgument("execution record lacks id, job_type or job_status");
  }
  e.job_type = *type;
  e.job_status = *status;
  if (auto it = doc.FindMember("refs"); it != doc.MemberEnd() && it->value.IsObject()) {
    e.refs = ReadRefs(it->value);
  }
  if (auto it = doc.FindMember("pod_spec_options"); it != doc.MemberEnd() && it->value.IsObject()) {
    e.pod_spec_options = ReadPodSpecOptions(it->value);
  }
  e.gcs_path = GetString(doc, "gcs_path");
  e.create_time = ReadTime(doc, "create_time");
  e.start_time = ReadTime(doc, "start_time");
  e.completion_time = ReadTime(doc, "completion_time");
  e.message = GetString(doc, "message");
  e.client = GetString(doc, "client");
  e.fingerprint = GetString(doc, "fingerprint");
  e.worker = GetString(doc, "worker");
  e.attempt = GetInt(doc, "attempt");
  e.heartbeat_time = ReadTime(doc, "heartbeat_time");
  if (auto it = doc.FindMember("takes_over"); it != doc.MemberEnd() && it->value.IsObject()) {
    LeaseTakeover t;
    t.worker = GetString(it->value, "worker");
    t.attempt = GetInt(it->value, "attempt");
    t.heartbeat_time = ReadTime(it->value, "heartbeat_time");
    e.takes_over = std::move(t);
  }
  e.pipeline_id = GetInt64(doc, "pipeline_id");
  e.project_id = GetInt64(doc, "project_id");
  e.job_token_sha256 = GetString(doc, "job_token_sha256");
  return e;
}

std::string EncodeTrigger(const Trigger& t) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  WriteStringField(w, "id", t.id);
  WriteStringField(w, "job_name", t.job_name);
  WriteStringField(w, "job_type", JobTypeName(t.job_type));
  if (t.refs) {
    w.Key("refs");
    WriteRefs(w, *t.refs);
  }
  w.Key("pod_spec_options");
  WritePodSpecOptions(w, t.pod_spec_options);
  WriteStringField(w, "create_time", FormatRfc3339(t.create_time));
  WriteStringField(w, "client", t.client);
  WriteStringField(w, "fingerprint", t.fingerprint);
  WritePipelineIds(w, t.pipeline_id, t.project_id);
  w.EndObject();
  return buf.GetString();
}

StatusOr<Trigger> DecodeTrigger(std::string_view json) {
  rapidjson::Document doc;
  if (Status s = ParseJson(json, doc); !s.ok()) return s;
  if (!doc.IsObject()) return InvalidArgument("trigger is not a JSON object");
  Trigger t;
  t.id = GetString(doc, "id");
  t.job_name = GetString(doc, "job_name");
  auto type = JobTypeFromName(GetString(doc, "job_type"));
  auto created = ReadTime(doc, "create_time");
  if (t.id.empty() || t.job_name.empty() || !type || !created) {
    return InvalidArgument("trigger lacks id, job_name, job_type or create_time");
  }
  t.job_type = *type;
  t.create_time = *created;
  if (auto it = doc.FindMember("refs"); it != doc.MemberEnd() && it->value.IsObject()) {
    t.refs = ReadRefs(it->value);
  }
  if (auto it = doc.FindMember("pod_spec_options"); it != doc.MemberEnd() && it->value.IsObject()) {
    t.pod_spec_options = ReadPodSpecOptions(it->value);
  }
  t.client = GetString(doc, "client");
  t.fingerprint = GetString(doc, "fingerprint");
  t.pipeline_id = GetInt64(doc, "pipeline_id");
  t.project_id = GetInt64(doc, "project_id");
  return t;
}

}  // namespace sluice
