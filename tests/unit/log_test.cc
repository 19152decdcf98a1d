// Log lines: one line per event whatever the input (control characters and invalid UTF-8
// escaped in every value), the text and JSON formats, fields.

#include "common/log.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "common/config.h"

namespace sluice {
namespace {

const TimePoint kNoon = *ParseRfc3339("2026-11-30T12:00:00Z");

// A repository name that tries to forge a worker's line.
const std::string kForgery = "org/repo\n2026-11-29T23:59:59.000Z INFO worker: e1 SUCCESS";

size_t Newlines(const std::string& s) { return std::count(s.begin(), s.end(), '\n'); }

rapidjson::Document ParseLine(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.c_str(), line.size());
  EXPECT_FALSE(doc.HasParseError()) << line;
  EXPECT_TRUE(doc.IsObject()) << line;
  return doc;
}

std::string Member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return "<absent>";
  return std::string(v[key].GetString(), v[key].GetStringLength());
}

TEST(EscapeLogValueTest, EscapesControlCharactersAndInvalidUtf8) {
  struct Case {
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"plain text, 100% / ok", "plain text, 100% / ok"},
      {"a\nb", "a\\nb"},
      {"a\rb", "a\\rb"},
      {"a\tb", "a\\tb"},
      {std::string("nul\0here", 8), "nul\\x00here"},
      {"esc\x1b[31m", "esc\\x1b[31m"},
      {"del\x7f", "del\\x7f"},
      {"\xff\xfe\xc0\xaf", "\\xff\\xfe\\xc0\\xaf"},
      {"cut \xe2\x82", "cut \\xe2\\x82"},                       // a sequence that stops short
      {"surrogate \xed\xb0\x80", "surrogate \\xed\\xb0\\x80"},  // CESU-8 U+DC00
      {"overlong \xe0\x80\xaf", "overlong \\xe0\\x80\\xaf"},
      {"c1 \xc2\x85", "c1 \\u0085"},  // NEL
      {"ls \xe2\x80\xa8 ps \xe2\x80\xa9", "ls \\u2028 ps \\u2029"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"},
      {"back\\slash", "back\\slash"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(EscapeLogValue(c.in), c.want);
  }
}

TEST(EscapeLogValueTest, CutsALongValueAtACharacterBoundary) {
  EXPECT_EQ(EscapeLogValue(std::string(10, 'a'), 4), "aaaa…");
  EXPECT_EQ(EscapeLogValue("ab\xc3\xa9", 3), "ab…");  // é is two bytes: not split
  EXPECT_EQ(EscapeLogValue("ab\ncd", 3), "ab…");      // \n is two bytes once escaped
  EXPECT_EQ(EscapeLogValue("abc", 3), "abc");
}

TEST(FormatLogLineTest, TextIsTodaysFormatWithFieldsAppended) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kNoon, LogLevel::kInfo, "worker", "e1 SUCCESS", {}),
            "2026-11-30T12:00:00.000Z INFO worker: e1 SUCCESS\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, kNoon, LogLevel::kWarn, "webhooks", "refused",
                          {{"request_id", "r-1"}, {"repo", "a b"}, {"empty", ""}}),
            "2026-11-30T12:00:00.000Z WARN webhooks: refused request_id=r-1 repo=\"a b\"\n")
      << "an empty field is left out";
}

TEST(FormatLogLineTest, TextIsOneLineWhateverTheMessageAndFields) {
  std::string line = FormatLogLine(LogFormat::kText, kNoon, LogLevel::kWarn, "webhooks",
                                   "refused delivery for " + kForgery,
                                   {{"delivery_id", "abc\rdef"}, {"repo", kForgery}});
  EXPECT_EQ(Newlines(line), 1u) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  EXPECT_EQ(line.back(), '\n');
  EXPECT_NE(line.find("org/repo\\n2026-11-29T23:59:59.000Z INFO worker"), std::string::npos);
  // A value with a backslash is quoted, its backslashes doubled.
  EXPECT_NE(line.find("delivery_id=\"abc\\\\rdef\""), std::string::npos) << line;
}

TEST(FormatLogLineTest, AQuotedTextFieldCannotCloseItsQuotes) {
  std::string line = FormatLogLine(LogFormat::kText, kNoon, LogLevel::kInfo, "c", "m",
                                   {{"repo", "x\" job=forged"}});
  EXPECT_NE(line.find("repo=\"x\\\" job=forged\""), std::string::npos) << line;
}

TEST(FormatLogLineTest, JsonIsOneObjectPerLineWithTheFields) {
  std::string line = FormatLogLine(
      LogFormat::kJson, kNoon, LogLevel::kError, "worker", "job failed",
      {{"execution_id", "e-1"}, {"job", "images"}, {"client", "ci"}, {"request_id", "r-9"}});
  ASSERT_EQ(Newlines(line), 1u);
  ASSERT_EQ(line.back(), '\n');
  rapidjson::Document doc = ParseLine(line);
  EXPECT_EQ(Member(doc, "time"), "2026-11-30T12:00:00.000Z");
  EXPECT_EQ(Member(doc, "level"), "ERROR");
  EXPECT_EQ(Member(doc, "component"), "worker");
  EXPECT_EQ(Member(doc, "message"), "job failed");
  EXPECT_EQ(Member(doc, "execution_id"), "e-1");
  EXPECT_EQ(Member(doc, "job"), "images");
  EXPECT_EQ(Member(doc, "client"), "ci");
  EXPECT_EQ(Member(doc, "request_id"), "r-9");
}

TEST(FormatLogLineTest, JsonOfHostileValuesParsesBackAsValidUtf8OnOneLine) {
  const std::string hostile = kForgery + "\r\"}\x00\xff\xfe\xc0\xaf\xed\xb0\x80 \\";
  std::string line = FormatLogLine(LogFormat::kJson, kNoon, LogLevel::kWarn, "webhooks",
                                   "refused " + hostile, {{"repo", hostile}});
  ASSERT_EQ(Newlines(line), 1u) << line;
  rapidjson::Document doc = ParseLine(line);  // with UTF-8 validation
  EXPECT_EQ(Member(doc, "repo"), EscapeLogValue(hostile, kMaxLogFieldBytes));
  EXPECT_EQ(Member(doc, "message"), "refused " + EscapeLogValue(hostile));
  EXPECT_EQ(Member(doc, "repo").find('\n'), std::string::npos);
}

TEST(FormatLogLineTest, AFieldValueIsCutAtItsLimit) {
  std::string line = FormatLogLine(LogFormat::kJson, kNoon, LogLevel::kInfo, "c", "m",
                                   {{"repo", std::string(100000, 'r')}});
  rapidjson::Document doc = ParseLine(line);
  EXPECT_EQ(Member(doc, "repo"), std::string(kMaxLogFieldBytes, 'r') + "…");
}

TEST(LogTest, WritesTheChosenFormatToStderr) {
  SetLogFormat(LogFormat::kJson);
  testing::internal::CaptureStderr();
  LogInfo("gateway", "hello\nworld", {{"request_id", "r-2"}});
  std::string out = testing::internal::GetCapturedStderr();
  SetLogFormat(LogFormat::kText);
  ASSERT_EQ(Newlines(out), 1u) << out;
  rapidjson::Document doc = ParseLine(out);
  EXPECT_EQ(Member(doc, "message"), "hello\\nworld");
  EXPECT_EQ(Member(doc, "request_id"), "r-2");

  testing::internal::CaptureStderr();
  LogWarn("gateway", "plain");
  out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find(" WARN gateway: plain\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace sluice
