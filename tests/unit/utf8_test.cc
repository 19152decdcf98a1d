#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(IsValidUtf8Test, AcceptsWellFormedText) {
  for (std::string text : {std::string(""), std::string("plain ascii"), std::string("caf\xC3\xA9"),
                           std::string("\xE2\x80\xA6"), std::string("\xF0\x9F\x98\x80"),
                           std::string("\xF4\x8F\xBF\xBF"), std::string("a\0b", 3)}) {
    EXPECT_TRUE(IsValidUtf8(text)) << text;
  }
}

TEST(IsValidUtf8Test, RefusesWhatRfc3629Forbids) {
  const std::pair<const char*, std::string> cases[] = {
      {"the issue's env value", "\xff\xfe\xc0\xaf"},
      {"overlong slash", "\xC0\xAF"},
      {"overlong three-byte", "\xE0\x80\xAF"},
      {"overlong four-byte", "\xF0\x80\x80\xAF"},
      {"lone low surrogate (RapidJSON's \\udc00)", "\xED\xB0\x80"},
      {"lone high surrogate", "\xED\xA0\x80"},
      {"above U+10FFFF", "\xF4\x90\x80\x80"},
      {"F5 lead byte", "\xF5\x80\x80\x80"},
      {"stray continuation", "a\x80"},
      {"truncated two-byte", "\xC3"},
      {"truncated four-byte", "\xF0\x9F\x98"},
      {"bad continuation", "\xE2\x28\xA1"},
  };
  for (const auto& [name, text] : cases) EXPECT_FALSE(IsValidUtf8(text)) << name;
}

TEST(Utf8SequenceLengthTest, GivesTheLengthOfEachSequence) {
  std::string text = "a\xC3\xA9\xE2\x80\xA6\xF0\x9F\x98\x80";
  EXPECT_EQ(Utf8SequenceLength(text, 0), 1u);
  EXPECT_EQ(Utf8SequenceLength(text, 1), 2u);
  EXPECT_EQ(Utf8SequenceLength(text, 3), 3u);
  EXPECT_EQ(Utf8SequenceLength(text, 6), 4u);
  EXPECT_EQ(Utf8SequenceLength(text, 2), 0u);  // inside a sequence
  EXPECT_EQ(Utf8SequenceLength(text, text.size()), 0u);
}

TEST(ReplaceInvalidUtf8Test, ReplacesEachBadByteAndKeepsTheRest) {
  EXPECT_EQ(ReplaceInvalidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ReplaceInvalidUtf8("a\xff\xfe\xc0\xaf"
                               "b"),
            "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "b");
  EXPECT_TRUE(IsValidUtf8(ReplaceInvalidUtf8("\xED\xB0\x80\xF0\x9F")));
}

}  // namespace
}  // namespace sluice
