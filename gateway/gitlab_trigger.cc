#include "gateway/gitlab_trigger.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <vector>

#include "common/crypto.h"
#include "common/json_codec.h"
#include "common/status.h"
#include "common/url.h"
#include "common/utf8.h"
#include "gateway/auth.h"

namespace sluice {

namespace {

constexpr std::string_view kTokenPrefix = "glptt-";

// Parameters as they arrive from one source, before merging.
struct RawParams {
  std::map<std::string, std::string> scalars;    // token, ref, and anything else
  std::map<std::string, std::string> variables;  // variables[KEY]=value
  std::map<std::string, std::string> inputs;     // inputs[KEY]=value
  bool variables_not_a_map = false;              // "variables=value"
  bool variables_not_strings = false;            // a JSON variable that is not a string
};

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The value of parameter `name` of a header such as `multipart/form-data; boundary="x"`.
std::string HeaderParam(const std::string& header, const std::string& name) {
  size_t pos = 0;
  while ((pos = header.find(';', pos)) != std::string::npos) {
    ++pos;
    size_t eq = header.find('=', pos);
    if (eq == std::string::npos) break;
    std::string key = Lower(Trim(header.substr(pos, eq - pos)));
    size_t end = header.find(';', eq);
    std::string value = Trim(header.substr(eq + 1, end == std::string::npos ? end : end - eq - 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (key == name) return value;
  }
  return "";
}

// Sorts flat form fields into scalars and the two maps GitLab nests: "variables[K]" and
// "inputs[K]".
RawParams FromFields(const std::map<std::string, std::string>& fields) {
  RawParams raw;
  for (const auto& [key, value] : fields) {
    bool nested = false;
    for (auto [prefix, target] :
         {std::pair{"variables[", &raw.variables}, std::pair{"inputs[", &raw.inputs}}) {
      std::string_view p(prefix);
      if (key.size() > p.size() + 1 && key.compare(0, p.size(), p) == 0 && key.back() == ']') {
        (*target)[key.substr(p.size(), key.size() - p.size() - 1)] = value;
        nested = true;
      }
    }
    if (nested) continue;
    if (key == "variables") {
      raw.variables_not_a_map = true;
      continue;
    }
    raw.scalars[key] = value;
  }
  return raw;
}

std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

// A JSON string whole: "\u0000" is a character of it, not its end.
std::string Text(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

rapidjson::Value JsonValue(const std::string& s, rapidjson::Document::AllocatorType& alloc) {
  return rapidjson::Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

RawParams FromJson(const rapidjson::Value& doc) {
  RawParams raw;
  for (const auto& m : doc.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    const rapidjson::Value& v = m.value;
    if (key == "variables") {
      if (v.IsNull()) continue;
      if (!v.IsObject()) {
        raw.variables_not_a_map = true;
        continue;
      }
      for (const auto& var : v.GetObject()) {
        if (!var.value.IsString()) {
          raw.variables_not_strings = true;
          continue;
        }
        raw.variables[Text(var.name)] = Text(var.value);
      }
    } else if (key == "inputs" && v.IsObject()) {
      for (const auto& in : v.GetObject()) {
        raw.inputs[Text(in.name)] = in.value.IsString() ? Text(in.value) : JsonText(in.value);
      }
    } else if (v.IsString()) {
      raw.scalars[key] = Text(v);
    } else {
      raw.scalars[key] = JsonText(v);  // the payload keeps it; token and ref must be strings
    }
  }
  return raw;
}

// `over` wins, key by key.
void MergeInto(RawParams& base, const RawParams& over) {
  for (const auto& [k, v] : over.scalars) base.scalars[k] = v;
  for (const auto& [k, v] : over.variables) base.variables[k] = v;
  for (const auto& [k, v] : over.inputs) base.inputs[k] = v;
  base.variables_not_a_map = base.variables_not_a_map || over.variables_not_a_map;
  base.variables_not_strings = base.variables_not_strings || over.variables_not_strings;
}

GitLabReply Error(int status, const std::string& body) { return GitLabReply{status, body}; }

std::string JsonString(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

// The first parameter whose name or value is not valid UTF-8, spelled as GitLab names
// parameters ("ref", "variables[KEY]"); empty when all are text. Forms and query strings are
// percent-decoded bytes: nothing checked them before.
std::string FirstNotUtf8(const RawParams& raw) {
  for (const auto& [map, prefix] :
       {std::pair{&raw.scalars, ""}, std::pair{&raw.variables, "variables"},
        std::pair{&raw.inputs, "inputs"}}) {
    for (const auto& [key, value] : *map) {
      if (IsValidUtf8(key) && IsValidUtf8(value)) continue;
      std::string name = EchoValue(key);
      return *prefix == '\0' ? name : std::string(prefix) + "[" + name + "]";
    }
  }
  return "";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ParseUrlEncodedPairs(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t amp = text.find('&', pos);
    std::string pair = text.substr(pos, amp == std::string::npos ? amp : amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string key = PercentDecode(pair.substr(0, eq));
      std::string value = eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1));
      if (!key.empty()) out.emplace_back(std::move(key), std::move(value));
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

std::map<std::string, std::string> ParseUrlEncoded(const std::string& text) {
  std::map<std::string, std::string> out;
  for (auto& [k, v] : ParseUrlEncodedPairs(text)) out[k] = std::move(v);
  return out;
}

std::optional<std::map<std::string, std::string>> ParseMultipartForm(
    const std::string& content_type, const std::string& body) {
  std::string boundary = HeaderParam(content_type, "boundary");
  if (boundary.empty()) return std::nullopt;
  const std::string delimiter = "--" + boundary;
  std::map<std::string, std::string> fields;
  size_t pos = body.find(delimiter);
  if (pos == std::string::npos) return std::nullopt;
  while (true) {
    pos += delimiter.size();
    if (body.compare(pos, 2, "--") == 0) return fields;  // the closing delimiter
    if (body.compare(pos, 2, "\r\n") != 0) return std::nullopt;
    pos += 2;
    size_t headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string::npos) return std::nullopt;
    std::string name;
    size_t line_start = pos;
    while (line_start < headers_end) {
      size_t line_end = body.find("\r\n", line_start);
      if (line_end == std::string::npos || line_end > headers_end) line_end = headers_end;
      std::string line = body.substr(line_start, line_end - line_start);
      size_t colon = line.find(':');
      if (colon != std::string::npos &&
          Lower(Trim(line.substr(0, colon))) == "content-disposition") {
        name = HeaderParam(line.substr(colon + 1), "name");
      }
      line_start = line_end + 2;
    }
    size_t content = headers_end + 4;
    size_t next = body.find("\r\n" + delimiter, content);
    if (next == std::string::npos) return std::nullopt;
    if (!name.empty()) fields[name] = body.substr(content, next - content);
    pos = next + 2;
  }
}

TriggerParamsResult ReadTriggerParams(const TriggerRequest& request) {
  TriggerParamsResult result;
  RawParams merged = FromFields(request.query);

  // The body: a form, or JSON. Anything else (a webhook's body sent without a content type, say)
  // is kept for the payload only if it is JSON.
  std::string type = Lower(Trim(request.content_type.substr(0, request.content_type.find(';'))));
  rapidjson::Document json;
  bool body_is_json = false;
  if (type == "application/x-www-form-urlencoded") {
    MergeInto(merged, FromFields(ParseUrlEncoded(request.body)));
  } else if (type == "multipart/form-data") {
    auto fields = ParseMultipartForm(request.content_type, request.body);
    if (!fields) {
      result.error = Error(400, R"({"error":"the multipart body does not follow its boundary"})");
      return result;
    }
    MergeInto(merged, FromFields(*fields));
  } else if (!request.body.empty()) {
    Status parsed = ParseJson(request.body, json);
    if (parsed.ok() && json.IsObject()) {
      body_is_json = true;
      MergeInto(merged, FromJson(json));
    } else if (type == "application/json") {
      // A body that is JSON but not text says so; anything else is not a JSON object.
      bool not_text = !parsed.ok() && parsed.message().find("not valid UTF-8") != std::string::npos;
      result.error = Error(400, not_text ? "{\"error\":" + JsonString(parsed.message()) + "}"
                                         : R"({"error":"the body is not a JSON object"})");
      return result;
    }
  }
  if (request.path_ref) merged.scalars["ref"] = *request.path_ref;
  // Every parameter but the token is stored (the pipeline record, TRIGGER_PAYLOAD) and served.
  RawParams stored = merged;
  stored.scalars.erase("token");
  if (std::string name = FirstNotUtf8(stored); !name.empty()) {
    result.error = Error(400, "{\"error\":" + JsonString(name + " is not valid UTF-8") + "}");
    return result;
  }

  // GitLab's order of checks: missing parameters (all named at once), then the variables.
  std::vector<std::string> problems;
  auto token = merged.scalars.find("token");
  auto ref = merged.scalars.find("ref");
  if (token == merged.scalars.end()) problems.push_back("token is missing");
  if (ref == merged.scalars.end()) {
    problems.push_back("ref is missing");
  } else if (Trim(ref->second).empty()) {
    problems.push_back("ref is empty");
  }
  if (merged.variables_not_a_map) problems.push_back("variables is invalid");
  if (!problems.empty()) {
    std::string joined;
    for (const std::string& p : problems) joined += (joined.empty() ? "" : ", ") + p;
    result.error = Error(400, "{\"error\":" + JsonString(joined) + "}");
    return result;
  }
  if (merged.variables_not_strings) {
    result.error = Error(400, R"({"message":"variables needs to be a map of key-valued strings"})");
    return result;
  }

  PipelineTriggerParams& p = result.params;
  p.token = token->second;
  p.ref = ref->second;
  p.variables = merged.variables;
  p.inputs = merged.inputs;

  // TRIGGER_PAYLOAD: the webhook body's members and the other parameters, without the token.
  rapidjson::Document payload(rapidjson::kObjectType);
  auto& alloc = payload.GetAllocator();
  if (body_is_json) {
    for (auto& m : json.GetObject()) {
      std::string key(m.name.GetString(), m.name.GetStringLength());
      if (key == "token" || key == "ref" || key == "id" || key == "variables") continue;
      payload.AddMember(JsonValue(key, alloc), rapidjson::Value(m.value, alloc), alloc);
    }
  }
  for (const auto& [k, v] : merged.scalars) {
    rapidjson::Value name(
        rapidjson::StringRef(k.data(), static_cast<rapidjson::SizeType>(k.size())));
    if (k == "token" || k == "ref" || k == "id" || payload.HasMember(name)) continue;
    payload.AddMember(JsonValue(k, alloc), JsonValue(v, alloc), alloc);
  }
  payload.AddMember("ref", JsonValue(p.ref, alloc), alloc);
  payload.AddMember("id", JsonValue(request.project_id, alloc), alloc);
  rapidjson::Value vars(rapidjson::kObjectType);
  for (const auto& [k, v] : p.variables) {
    vars.AddMember(JsonValue(k, alloc), JsonValue(v, alloc), alloc);
  }
  payload.AddMember("variables", vars, alloc);
  p.payload_json = JsonText(payload);
  return result;
}

ResolvedTrigger ResolveTrigger(const Config& config, const TriggerTokenTable& tokens,
                               const std::string& project_ref, const std::string& gitlab_event,
                               const PipelineTriggerParams& params, TimePoint now,
                               bool job_token_caller) {
  ResolvedTrigger r;
  if (gitlab_event == "Pipeline Hook") {
    r.error = Error(403, R"({"message":"403 Forbidden"})");
    return r;
  }
  const GitLabReply not_found = Error(404, R"({"message":"404 Not Found"})");
  const ProjectConfig* project = config.FindProject(project_ref);
  // A client token is looked up like any other string: it matches no trigger token's hash.
  std::optional<TriggerToken> token = tokens.FindByHash(Sha256Hex(params.token));
  bool token_valid =
      token && project != nullptr && token->project_id == project->id && !token->ExpiredAt(now);
  if (project == nullptr || !(token_valid || job_token_caller)) {
    r.error = not_found;
    return r;
  }
  std::string_view ref = params.ref;
  bool branch = false;
  bool tag = false;
  // "refs/heads/x" and "refs/tags/x" name one kind; a bare name may be either.
  if (ref.substr(0, 11) == "refs/heads/") {
    ref.remove_prefix(11);
    branch = true;
  } else if (ref.substr(0, 10) == "refs/tags/") {
    ref.remove_prefix(10);
    tag = true;
  } else {
    branch = tag = true;
  }
  bool is_branch = false;
  bool is_tag = false;
  for (const std::string& b : project->branches) is_branch |= branch && GlobMatch(b, ref);
  for (const std::string& t : project->tags) is_tag |= tag && GlobMatch(t, ref);
  if (!is_branch && !is_tag) {
    r.error = Error(400, R"({"message":{"base":["Reference not found"]}})");
    return r;
  }
  r.project = project;
  if (token_valid) r.token = std::move(token);
  r.ref = std::string(ref);
  r.tag = !is_branch;
  return r;
}

std::string NewTriggerToken() { return std::string(kTokenPrefix) + HexEncode(RandomBytes(20)); }

std::string ShortTriggerToken(const std::string& token) {
  std::string_view rest(token);
  if (rest.substr(0, kTokenPrefix.size()) == kTokenPrefix) rest.remove_prefix(kTokenPrefix.size());
  return std::string(rest.substr(0, 4));
}

}  // namespace sluice
