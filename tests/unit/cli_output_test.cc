// What the client prints for people: tables, fields, and nothing a server can use to drive the
// terminal.

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "cli/output.h"

namespace sluice::cli {
namespace {

TEST(CliOutput, TableColumnsAreAsWideAsTheirWidestCell) {
  EXPECT_EQ(FormatTable({{"ID", "JOB", "STATUS"}, {"1", "a-long-job", "SUCCESS"}, {"22", "b", ""}}),
            "ID  JOB         STATUS\n"
            "1   a-long-job  SUCCESS\n"
            "22  b\n");
  EXPECT_EQ(FormatTable({}), "");
}

TEST(CliOutput, ControlCharactersFromTheServerAreEscaped) {
  EXPECT_EQ(Printable("ok"), "ok");
  EXPECT_EQ(Printable("a\nb\tc\x1b[2Jd\x7f"), "a\\nb\\tc\\x1b[2Jd\\x7f");
  EXPECT_EQ(Printable("caf\xc3\xa9"), "caf\xc3\xa9");

  rapidjson::Document doc;
  doc.Parse(R"({"id":"e1","job_name":"evil\u001b[2J","job_status":"SUCCESS"})");
  std::vector<const rapidjson::Value*> rows = {&doc};
  EXPECT_EQ(FormatExecutionTable(rows),
            "ID  JOB          TYPE  STATUS   CREATED\n"
            "e1  evil\\x1b[2J        SUCCESS\n");
}

TEST(CliOutput, ExecutionFieldsIncludeEnvRefsAndMessage) {
  rapidjson::Document doc;
  doc.Parse(R"({"id":"e1","job_name":"post","job_type":"POSTSUBMIT","job_status":"ERROR",
    "message":"job timed out","pod_spec_options":{"envs":{"A":"1","B":"2"}},
    "refs":{"org":"o","repo":"r","base_ref":"main","base_sha":"abc"},
    "create_time":"t0","start_time":"t1","completion_time":"t2","gcs_path":"/a","job_url":"u"})");
  EXPECT_EQ(FormatExecution(doc),
            "ID:         e1\n"
            "Job:        post\n"
            "Type:       POSTSUBMIT\n"
            "Status:     ERROR\n"
            "Message:    job timed out\n"
            "Created:    t0\n"
            "Started:    t1\n"
            "Completed:  t2\n"
            "Env:        A=1 B=2\n"
            "Refs:       o/r@main (abc)\n"
            "Artifacts:  /a\n"
            "URL:        u\n");
}

TEST(CliOutput, JsonTextIsOneLine) {
  rapidjson::Document doc;
  doc.Parse(R"({ "a" : [1, 2] })");
  EXPECT_EQ(JsonText(doc), "{\"a\":[1,2]}\n");
}

}  // namespace
}  // namespace sluice::cli
