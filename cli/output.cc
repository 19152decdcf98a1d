#include "cli/output.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <utility>

#include "common/json_codec.h"

namespace sluice::cli {
namespace {

std::string Field(const rapidjson::Value& v, const char* key) {
  return Printable(GetString(v, key));
}

// {"A":"1","B":"2"} as "A=1 B=2".
std::string Pairs(const rapidjson::Value& v, const char* key) {
  std::string out;
  if (!v.IsObject()) return out;
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsObject()) return out;
  for (const auto& m : it->value.GetObject()) {
    if (!m.value.IsString()) continue;
    if (!out.empty()) out += ' ';
    out += Printable(m.name.GetString()) + "=" + Printable(m.value.GetString());
  }
  return out;
}

}  // namespace

std::string Printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string FormatExecution(const rapidjson::Value& e) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"ID", Field(e, "id")},
      {"Job", Field(e, "job_name")},
      {"Type", Field(e, "job_type")},
      {"Status", Field(e, "job_status")},
      {"Message", Field(e, "message")},
      {"Created", Field(e, "create_time")},
      {"Started", Field(e, "start_time")},
      {"Completed", Field(e, "completion_time")},
  };
  if (e.IsObject() && e.HasMember("pod_spec_options")) {
    fields.emplace_back("Env", Pairs(e["pod_spec_options"], "envs"));
  }
  if (e.IsObject() && e.HasMember("refs") && e["refs"].IsObject()) {
    const rapidjson::Value& refs = e["refs"];
    std::string r = Field(refs, "org") + "/" + Field(refs, "repo");
    std::string base = Field(refs, "base_ref");
    if (!base.empty()) r += "@" + base;
    std::string sha = Field(refs, "base_sha");
    if (!sha.empty()) r += " (" + sha + ")";
    fields.emplace_back("Refs", r);
  }
  fields.emplace_back("Artifacts", Field(e, "gcs_path"));
  fields.emplace_back("URL", Field(e, "job_url"));
  size_t width = 0;
  for (const auto& [name, value] : fields) {
    if (!value.empty()) width = std::max(width, name.size());
  }
  std::string out;
  for (const auto& [name, value] : fields) {
    if (value.empty()) continue;
    out += name + ":" + std::string(width - name.size() + 2, ' ') + value + "\n";
  }
  return out;
}

std::string FormatExecutionTable(const std::vector<const rapidjson::Value*>& executions) {
  std::vector<std::vector<std::string>> rows = {{"ID", "JOB", "TYPE", "STATUS", "CREATED"}};
  for (const rapidjson::Value* e : executions) {
    rows.push_back({Field(*e, "id"), Field(*e, "job_name"), Field(*e, "job_type"),
                    Field(*e, "job_status"), Field(*e, "create_time")});
  }
  return FormatTable(rows);
}

std::string JsonText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  value.Accept(w);
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace sluice::cli
