#include "gateway/create_request.h"

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <regex>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "gateway/auth.h"
#include "sluice_schemas.h"

namespace sluice {
namespace {

constexpr std::string_view kReservedPrefix = "sluice.io/";
constexpr const char* kJobTypeChoices = R"(1 or "PERIODIC", 2 or "POSTSUBMIT", 3 or "PRESUBMIT")";
// libstdc++'s std::regex recurses per character, so matching a client-sized string could exhaust
// the stack. No branch name comes near this length.
constexpr size_t kMaxBaseRefBytes = 1024;

std::string_view Trim(std::string_view s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// What a message may echo of client text (EchoValue), as a JSON string literal.
std::string Quote(std::string_view s) {
  std::string echo = EchoValue(s);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(echo.data(), static_cast<rapidjson::SizeType>(echo.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

// Field paths as messages spell them: refs.pulls[0].sha, pod_spec_options.labels."app/x".
std::string ChildPath(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  out += IsValidEnvName(key) ? EchoValue(key) : Quote(key);
  return out;
}

std::string ElementPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// ---- Schema validation and the translation of its errors -----------------------------------

// The schema's own allocations live in a memory pool. With the default CrtAllocator, RapidJSON's
// 48-bit pointer packing hides the property names of this never-destroyed object from
// LeakSanitizer, which then reports them as leaks.
using SchemaDocument =
    rapidjson::GenericSchemaDocument<rapidjson::Value, rapidjson::MemoryPoolAllocator<>>;
using SchemaValidator = rapidjson::GenericSchemaValidator<SchemaDocument>;

struct CreateSchema {
  rapidjson::Document document;  // kept for rapidjson::Pointer look-ups of failing subschemas
  std::unique_ptr<SchemaDocument> schema;
};

// Built once, then only read (thread-safe).
const CreateSchema& GetCreateSchema() {
  static const CreateSchema* const schema = [] {
    auto* s = new CreateSchema;
    s->document.Parse(kSchema_create_execution);
    if (s->document.HasParseError()) {
      std::fprintf(stderr, "schemas/create_execution.schema.json is not valid JSON\n");
      std::abort();
    }
    s->schema = std::make_unique<SchemaDocument>(s->document);
    return s;
  }();
  return *schema;
}

// Where a JSON pointer leads in the document, with the path spelled for messages.
struct Location {
  std::string path;
  const rapidjson::Value* value = nullptr;  // null when the pointer leads nowhere
  std::string parent_path;
  const rapidjson::Value* parent = nullptr;
  std::string last_key;
};

template <typename Pointer>  // a rapidjson::GenericPointer
Location Locate(const rapidjson::Value& root, const Pointer& pointer) {
  Location loc;
  loc.value = &root;
  for (size_t i = 0; i < pointer.GetTokenCount(); ++i) {
    const typename Pointer::Token& token = pointer.GetTokens()[i];
    std::string_view name(token.name, token.length);
    loc.parent = loc.value;
    loc.parent_path = loc.path;
    loc.last_key = std::string(name);
    const rapidjson::Value* next = nullptr;
    if (loc.value != nullptr && loc.value->IsArray() &&
        token.index != rapidjson::kPointerInvalidIndex) {
      loc.path = ElementPath(loc.path, token.index);
      if (token.index < loc.value->Size()) next = &(*loc.value)[token.index];
    } else {
      loc.path = ChildPath(loc.path, name);
      if (loc.value != nullptr && loc.value->IsObject()) {
        auto it =
            loc.value->FindMember(rapidjson::Value(rapidjson::StringRef(token.name, token.length)));
        if (it != loc.value->MemberEnd()) next = &it->value;
      }
    }
    loc.value = next;
  }
  return loc;
}

bool HasProperty(const rapidjson::Value& subschema, std::string_view name) {
  auto props = subschema.FindMember("properties");
  if (props == subschema.MemberEnd() || !props->value.IsObject()) return false;
  return props->value.HasMember(rapidjson::Value(
      rapidjson::StringRef(name.data(), static_cast<rapidjson::SizeType>(name.size()))));
}

// The "description" of property name in subschema, or null.
const rapidjson::Value* PropertyDescription(const rapidjson::Value& subschema,
                                            const rapidjson::Value& name) {
  auto props = subschema.FindMember("properties");
  if (props == subschema.MemberEnd() || !props->value.IsObject()) return nullptr;
  auto prop = props->value.FindMember(name);
  if (prop == props->value.MemberEnd() || !prop->value.IsObject()) return nullptr;
  auto description = prop->value.FindMember("description");
  return description == prop->value.MemberEnd() ? nullptr : &description->value;
}

std::vector<std::string> PropertyNames(const rapidjson::Value& subschema) {
  std::vector<std::string> names;
  auto props = subschema.FindMember("properties");
  if (props == subschema.MemberEnd() || !props->value.IsObject()) return names;
  for (const auto& m : props->value.GetObject()) names.emplace_back(m.name.GetString());
  return names;
}

std::string WithArticle(std::string_view type) {
  if (type == "null") return "null";
  bool vowel = !type.empty() && std::string_view("aeiou").find(type[0]) != std::string_view::npos;
  return std::string(vowel ? "an " : "a ") + std::string(type);
}

std::string DescribeExpected(const rapidjson::Value& subschema) {
  auto type = subschema.FindMember("type");
  if (type == subschema.MemberEnd()) return "another type";
  if (type->value.IsString()) return WithArticle(type->value.GetString());
  std::string out;
  if (type->value.IsArray()) {
    for (rapidjson::SizeType i = 0; i < type->value.Size(); ++i) {
      if (i > 0) out += i + 1 == type->value.Size() ? " or " : ", ";
      out += WithArticle(type->value[i].GetString());
    }
  }
  return out;
}

std::string DescribeActual(const rapidjson::Value* value) {
  if (value == nullptr) return "something else";
  switch (value->GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return value->IsInt64() || value->IsUint64() ? "a number"
                                                   : "a number that is not a plain integer";
  }
  return "something else";
}

std::string NumberText(const rapidjson::Value& v) {
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsUint64()) return std::to_string(v.GetUint64());
  if (v.IsNumber()) return std::to_string(v.GetDouble());
  return "?";
}

// RapidJSON 1.1.0 reports only the failing keyword, the failing subschema and where in the
// document it failed; this turns those into a message naming the field and the fix.
Status SchemaError(const rapidjson::Document& doc, const SchemaValidator& validator) {
  const CreateSchema& cs = GetCreateSchema();
  const char* keyword_chars = validator.GetInvalidSchemaKeyword();
  std::string_view keyword = keyword_chars != nullptr ? keyword_chars : "";
  const rapidjson::Value* subschema = validator.GetInvalidSchemaPointer().Get(cs.document);
  Location loc = Locate(doc, validator.GetInvalidDocumentPointer());
  std::string where = loc.path.empty() ? "request body" : loc.path;
  if (subschema == nullptr) {
    return InvalidArgument(where + ": does not match the request schema (" + std::string(keyword) +
                           ")");
  }

  if (keyword == "additionalProperties") {
    // RapidJSON appends the offending key to the document pointer before rejecting it; fall back
    // to searching the object in case the pointer stops at the object.
    std::string unknown;
    std::string object_path;
    if (loc.parent != nullptr && loc.parent->IsObject() && !HasProperty(*subschema, loc.last_key)) {
      unknown = loc.path;
      object_path = loc.parent_path;
    } else if (loc.value != nullptr && loc.value->IsObject()) {
      for (const auto& m : loc.value->GetObject()) {
        std::string_view name(m.name.GetString(), m.name.GetStringLength());
        if (!HasProperty(*subschema, name)) {
          unknown = ChildPath(loc.path, name);
          object_path = loc.path;
          break;
        }
      }
    }
    if (unknown.empty()) unknown = where;
    std::string owner = object_path.empty() ? "the request" : object_path;
    return InvalidArgument("unknown field \"" + unknown + "\"; " + owner + " accepts only " +
                           Join(PropertyNames(*subschema)));
  }
  if (keyword == "type") {
    return InvalidArgument(where + ": expected " + DescribeExpected(*subschema) + ", got " +
                           DescribeActual(loc.value));
  }
  if (keyword == "required") {
    auto required = subschema->FindMember("required");
    if (required != subschema->MemberEnd() && required->value.IsArray() && loc.value != nullptr &&
        loc.value->IsObject()) {
      for (const auto& name : required->value.GetArray()) {
        if (loc.value->HasMember(name)) continue;
        std::string message = ChildPath(loc.path, name.GetString()) + ": required field is missing";
        const rapidjson::Value* description = PropertyDescription(*subschema, name);
        if (description != nullptr && description->IsString()) {
          message += ". " + std::string(description->GetString());
        }
        return InvalidArgument(message);
      }
    }
    return InvalidArgument(where + ": a required field is missing");
  }
  if (keyword == "minimum" || keyword == "maximum") {
    auto limit = subschema->FindMember(keyword_chars);
    std::string bound = limit != subschema->MemberEnd() ? NumberText(limit->value) : "?";
    return InvalidArgument(where + ": must be " +
                           (keyword == "minimum" ? "at least " : "at most ") + bound);
  }
  return InvalidArgument(where + ": invalid value (fails schema keyword \"" + std::string(keyword) +
                         "\")");
}

// ---- job_execution_type ----------------------------------------------------------------------

StatusOr<JobType> ParseJobType(const rapidjson::Value& v) {
  // Numbers as in gangway.proto: 0 UNSPECIFIED, 1 PERIODIC, 2 POSTSUBMIT, 3 PRESUBMIT, 4 BATCH.
  std::optional<int64_t> number;
  std::string given;
  if (v.IsInt64()) {
    number = v.GetInt64();
    given = std::to_string(*number);
  } else if (v.IsString()) {
    std::string_view s(v.GetString(), v.GetStringLength());
    static constexpr std::string_view kNames[] = {"JOB_EXECUTION_TYPE_UNSPECIFIED", "PERIODIC",
                                                  "POSTSUBMIT", "PRESUBMIT", "BATCH"};
    for (int i = 0; i < 5; ++i) {
      if (s == kNames[i] || s == std::to_string(i)) number = i;
    }
    given = Quote(s);
  } else {
    given = NumberText(v);
  }
  if (number == 1) return JobType::kPeriodic;
  if (number == 2) return JobType::kPostsubmit;
  if (number == 3) return JobType::kPresubmit;
  if (number == 0) {
    return InvalidArgument(std::string("job_execution_type: must be set to ") + kJobTypeChoices +
                           "; 0 (JOB_EXECUTION_TYPE_UNSPECIFIED) is not a job type");
  }
  if (number == 4) {
    return InvalidArgument(std::string("job_execution_type: BATCH is not supported; use ") +
                           kJobTypeChoices);
  }
  return InvalidArgument("job_execution_type: " + given + " is not a job type; use " +
                         kJobTypeChoices);
}

// ---- Rules that need the job -----------------------------------------------------------------

bool IsCommitSha(std::string_view sha) {
  // Lower-case only, as Prow's ^[0-9a-f]{40}$.
  if (sha.size() != 40) return false;
  for (char c : sha) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status ValidatePull(const Pull& pull, const std::string& path) {
  if (pull.number <= 0) {
    return InvalidArgument(path + ".number: must be a positive pull request number, got " +
                           std::to_string(pull.number));
  }
  if (!IsCommitSha(pull.sha)) {
    return InvalidArgument(path +
                           ".sha: must be a 40-character hex commit SHA (lower case), the pull "
                           "request's head commit; got " +
                           Quote(pull.sha));
  }
  return Status::Ok();
}

Status ValidateBranch(const std::string& base_ref, const JobConfig& job) {
  if (job.branches.empty()) return Status::Ok();
  if (base_ref.size() > kMaxBaseRefBytes) {
    return InvalidArgument("refs.base_ref: longer than " + std::to_string(kMaxBaseRefBytes) +
                           " bytes; no branch name is that long");
  }
  for (const std::string& pattern : job.branches) {
    try {
      if (std::regex_search(base_ref, std::regex(pattern))) return Status::Ok();
    } catch (const std::regex_error&) {
      // The config loader rejects bad regexes; reaching this is a bug, not the client's fault.
      return Internal("job " + Quote(job.name) + " has an invalid branches regex " +
                      Quote(pattern));
    }
  }
  std::vector<std::string> quoted;
  for (const std::string& pattern : job.branches) quoted.push_back(Quote(pattern));
  return InvalidArgument("refs.base_ref: job " + Quote(job.name) + " does not run on branch " +
                         Quote(base_ref) + "; base_ref must match one of " + Join(quoted));
}

Status ValidateRefs(const CreateRequest& request, const JobConfig& job) {
  const std::string type = JobTypeName(job.type);
  if (job.type == JobType::kPeriodic) {
    if (request.refs) {
      return InvalidArgument(
          "refs: must be absent for a PERIODIC job; remove refs from the "
          "request");
    }
    return Status::Ok();
  }
  if (!request.refs) {
    return InvalidArgument("refs: required for a " + type +
                           " job; give at least org, repo, base_ref and base_sha");
  }
  const Refs& refs = *request.refs;
  const std::pair<const char*, const std::string*> required[] = {{"org", &refs.org},
                                                                 {"repo", &refs.repo},
                                                                 {"base_ref", &refs.base_ref},
                                                                 {"base_sha", &refs.base_sha}};
  for (const auto& [name, value] : required) {
    if (value->empty()) {
      return InvalidArgument(std::string("refs.") + name + ": required for a " + type +
                             " job; it must not be empty");
    }
  }
  // base_sha is deliberately not format-checked: Prow does not check it, and OpenShift's own
  // documented example uses a SHA with a non-hex character.
  if (job.type == JobType::kPresubmit && refs.pulls.empty()) {
    return InvalidArgument(
        "refs.pulls: a PRESUBMIT job needs at least one pull request; add "
        "{\"number\": <pull request number>, \"sha\": \"<40-character head commit SHA>\"}");
  }
  // Pulls are checked whenever present (Prow checks their SHAs for every job type).
  for (size_t i = 0; i < refs.pulls.size(); ++i) {
    if (Status s = ValidatePull(refs.pulls[i], ElementPath("refs.pulls", i)); !s.ok()) return s;
  }
  if (!job.repo.empty() && refs.org + "/" + refs.repo != job.repo) {
    std::string_view want_org = std::string_view(job.repo).substr(0, job.repo.find('/'));
    const char* field = refs.org != want_org ? "refs.org" : "refs.repo";
    return InvalidArgument(std::string(field) + ": job " + Quote(job.name) + " builds " + job.repo +
                           ", not " + Quote(refs.org + "/" + refs.repo) +
                           "; set refs.org and refs.repo to match");
  }
  if (Status s = ValidateBranch(refs.base_ref, job); !s.ok()) return s;
  if (job.clone) {
    // The worker fetches whatever the refs point at: only from where the job allows.
    std::string uri = CloneUri(refs);
    bool allowed = false;
    for (const std::string& pattern : job.allow_clone_uri)
      allowed = allowed || GlobMatch(pattern, uri);
    if (!allowed) {
      std::vector<std::string> quoted;
      for (const std::string& pattern : job.allow_clone_uri) quoted.push_back(Quote(pattern));
      return InvalidArgument(
          "refs.clone_uri: job " + Quote(job.name) + " may not clone from " + Quote(uri) +
          "; allowed: " + (quoted.empty() ? std::string("nothing") : Join(quoted)) +
          " (allow_clone_uri in the job's config)");
    }
  }
  return Status::Ok();
}

Status ValidateEnvs(const std::map<std::string, std::string>& envs, const JobConfig& job) {
  for (const auto& [name, value] : envs) {
    if (!IsValidEnvName(name)) {
      return InvalidArgument("pod_spec_options.envs: " + Quote(name) +
                             " is not a valid environment variable name; use letters, digits "
                             "and '_', not starting with a digit");
    }
    std::string path = ChildPath("pod_spec_options.envs", name);
    // An empty value is a value: the job gets the variable set and empty, as a pod whose spec
    // lists it with value "" would. gangway-cli sends RELEASE_IMAGE_INITIAL and
    // RELEASE_IMAGE_LATEST on every call, empty for a flag not given. (Prow's gangway refuses
    // empty values, so that client only works there with both flags.)
    if (!EnvNameAllowed(job.allow_env_override, name)) {
      if (job.allow_env_override.empty()) {
        return InvalidArgument(path + ": job " + Quote(job.name) + " does not allow overriding " +
                               EchoValue(name) + "; the job allows no environment overrides");
      }
      return InvalidArgument(path + ": job " + Quote(job.name) + " does not allow overriding " +
                             EchoValue(name) + " (allowed: " + Join(job.allow_env_override) + ")");
    }
  }
  return Status::Ok();
}

// RFC 1123 subdomain as Kubernetes checks it: lower-case labels joined by '.', at most 253 bytes.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty()) return false;
    for (char c : label) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    if (label.front() == '-' || label.back() == '-') return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// Kubernetes label name and value syntax: at most 63 of [-A-Za-z0-9_.], alphanumeric at both ends.
bool IsLabelName(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!IsAsciiAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return IsAsciiAlnum(s.front()) && IsAsciiAlnum(s.back());
}

bool IsLabelKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos) return IsLabelName(key);
  return IsDnsSubdomain(key.substr(0, slash)) && IsLabelName(key.substr(slash + 1));
}

bool HasReservedPrefix(std::string_view key) {
  return AsciiLower(key.substr(0, kReservedPrefix.size())) == kReservedPrefix;
}

// Labels and annotations share the rules on keys; labels also follow Kubernetes' syntax.
Status ValidateMetadata(const std::map<std::string, std::string>& entries, bool is_labels) {
  const std::string field = is_labels ? "pod_spec_options.labels" : "pod_spec_options.annotations";
  for (const auto& [key, value] : entries) {
    if (key.empty()) return InvalidArgument(field + ": keys must not be empty");
    std::string path = ChildPath(field, key);
    if (HasReservedPrefix(key)) {
      return InvalidArgument(path +
                             ": the sluice.io/ prefix is reserved for Sluice; use another "
                             "key");
    }
    if (is_labels && !IsLabelKey(key)) {
      return InvalidArgument(path +
                             ": not a valid label key; use an optional DNS subdomain prefix and "
                             "'/', then at most 63 letters, digits, '-', '_' or '.', beginning "
                             "and ending with a letter or digit");
    }
    if (value.empty()) return InvalidArgument(path + ": value must not be empty");
    if (is_labels && !IsLabelName(value)) {
      return InvalidArgument(path + ": " + Quote(value) +
                             " is not a valid label value; use at most 63 letters, digits, '-', "
                             "'_' or '.', beginning and ending with a letter or digit");
    }
  }
  return Status::Ok();
}

// ---- Fingerprint -----------------------------------------------------------------------------

// Length-prefixed name=value lines: unambiguous, and independent of the JSON codecs so that a
// change to them does not change fingerprints already stored in Kafka.
class CanonicalEncoder {
 public:
  void Field(std::string_view name, std::string_view value) {
    out_ += name;
    out_ += '=';
    out_ += std::to_string(value.size());
    out_ += ':';
    out_ += value;
    out_ += '\n';
  }
  void Field(std::string_view name, int64_t value) { Field(name, std::to_string(value)); }
  void Map(std::string_view name, const std::map<std::string, std::string>& m) {
    Field(name, static_cast<int64_t>(m.size()));
    for (const auto& [k, v] : m) {  // std::map: already in a canonical order
      Field("key", k);
      Field("value", v);
    }
  }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace

Status CheckContentType(std::string_view content_type) {
  std::string_view media = Trim(content_type.substr(0, content_type.find(';')));
  if (media.empty()) return Status::Ok();
  std::string lower = AsciiLower(media);
  if (lower == "application/json" || lower == "text/plain" ||
      lower == "application/x-www-form-urlencoded") {
    return Status::Ok();
  }
  size_t slash = lower.find('/');
  constexpr std::string_view kJsonSuffix = "+json";
  if (slash != std::string::npos && slash > 0 && lower.size() > slash + 1 + kJsonSuffix.size() &&
      lower.ends_with(kJsonSuffix)) {
    return Status::Ok();
  }
  return InvalidArgument("unsupported Content-Type " + Quote(media) +
                         "; send the request body as JSON with Content-Type: application/json")
      .WithHttpStatus(415);
}

StatusOr<CreateRequest> ParseCreateRequest(std::string_view body,
                                           const std::optional<std::string>& job_name_from_path) {
  rapidjson::Document doc;
  if (Status s = ParseJson(body, doc); !s.ok()) return s;
  if (!doc.IsObject()) {
    return InvalidArgument("request body must be a JSON object, got " + DescribeActual(&doc));
  }
  SchemaValidator validator(*GetCreateSchema().schema);
  if (!doc.Accept(validator)) return SchemaError(doc, validator);

  CreateRequest request;
  auto body_name = doc.FindMember("job_name");
  std::string name_in_body;
  if (body_name != doc.MemberEnd()) {
    name_in_body.assign(body_name->value.GetString(), body_name->value.GetStringLength());
  }
  if (job_name_from_path) {
    // proto3 JSON: an empty string is the same as an absent field.
    if (!name_in_body.empty() && name_in_body != *job_name_from_path) {
      return InvalidArgument("job_name: the body says " + Quote(name_in_body) +
                             " but the path says " + Quote(*job_name_from_path) +
                             "; leave job_name out of the body or make them equal");
    }
    request.job_name = *job_name_from_path;
  } else {
    request.job_name = std::move(name_in_body);
  }
  if (request.job_name.empty()) {
    return InvalidArgument(
        "job_name: required and must not be empty; set it to the name of the "
        "job to run");
  }

  StatusOr<JobType> type = ParseJobType(doc["job_execution_type"]);  // required by the schema
  if (!type.ok()) return type.status();
  request.job_type = *type;

  if (auto refs = doc.FindMember("refs"); refs != doc.MemberEnd()) {
    request.refs = ReadRefs(refs->value);
  }
  if (auto options = doc.FindMember("pod_spec_options"); options != doc.MemberEnd()) {
    request.pod_spec_options = ReadPodSpecOptions(options->value);
  }
  return request;
}

Status ValidateAgainstJob(const CreateRequest& request, const JobConfig& job) {
  if (request.job_type != job.type) {
    return InvalidArgument(
        "job_execution_type: job " + Quote(job.name) + " is a " + JobTypeName(job.type) +
        " job, not " + JobTypeName(request.job_type) + "; send job_execution_type " +
        std::to_string(static_cast<int>(job.type)) + " (" + JobTypeName(job.type) + ")");
  }
  if (Status s = ValidateRefs(request, job); !s.ok()) return s;
  if (Status s = ValidateEnvs(request.pod_spec_options.envs, job); !s.ok()) return s;
  if (Status s = ValidateMetadata(request.pod_spec_options.labels, true); !s.ok()) return s;
  return ValidateMetadata(request.pod_spec_options.annotations, false);
}

Status CheckEnvSizes(const std::map<std::string, std::string>& envs, size_t max_value_bytes,
                     size_t max_total_bytes, std::string_view field) {
  size_t total = 0;
  for (const auto& [name, value] : envs) {
    if (value.size() > max_value_bytes) {
      return InvalidArgument(ChildPath(field, name) + ": the value is " +
                             std::to_string(value.size()) + " bytes; the limit is " +
                             std::to_string(max_value_bytes) +
                             " bytes per value (gateway.max_env_value_bytes)");
    }
    total += name.size() + value.size();
  }
  if (total > max_total_bytes) {
    return InvalidArgument(std::string(field) + ": names and values add up to " +
                           std::to_string(total) + " bytes; the limit is " +
                           std::to_string(max_total_bytes) +
                           " bytes in all (gateway.max_env_total_bytes)");
  }
  return Status::Ok();
}

std::string RequestFingerprint(const CreateRequest& request) {
  CanonicalEncoder e;
  e.Field("fingerprint", "v1");
  e.Field("job_name", request.job_name);
  e.Field("job_type", static_cast<int64_t>(request.job_type));
  e.Field("refs", request.refs ? 1 : 0);
  if (request.refs) {
    const Refs& r = *request.refs;
    e.Field("org", r.org);
    e.Field("repo", r.repo);
    e.Field("repo_link", r.repo_link);
    e.Field("base_ref", r.base_ref);
    e.Field("base_sha", r.base_sha);
    e.Field("base_link", r.base_link);
    e.Field("path_alias", r.path_alias);
    e.Field("clone_uri", r.clone_uri);
    e.Field("pulls", static_cast<int64_t>(r.pulls.size()));
    for (const Pull& p : r.pulls) {
      e.Field("number", p.number);
      e.Field("author", p.author);
      e.Field("sha", p.sha);
      e.Field("title", p.title);
      e.Field("ref", p.ref);
      e.Field("link", p.link);
      e.Field("commit_link", p.commit_link);
      e.Field("author_link", p.author_link);
    }
  }
  e.Map("envs", request.pod_spec_options.envs);
  e.Map("labels", request.pod_spec_options.labels);
  e.Map("annotations", request.pod_spec_options.annotations);
  return Sha256Hex(e.text());
}

bool IsValidEnvName(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!IsAsciiAlnum(c) && c != '_') return false;
  }
  return true;
}

bool EnvNameAllowed(const std::vector<std::string>& allow_env_override, std::string_view name) {
  for (std::string_view entry : allow_env_override) {
    if (entry.ends_with('*')) {
      if (name.starts_with(entry.substr(0, entry.size() - 1))) return true;
    } else if (entry == name) {
      return true;
    }
  }
  return false;
}

}  // namespace sluice
