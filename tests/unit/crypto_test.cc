// The primitives webhook verification and token checks stand on: HMAC-SHA256 against published
// vectors, base64 both ways, and the constant-time comparison's answers (its timing is measured
// by bench/signature_compare, never asserted here).

#include "common/crypto.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

TEST(HmacSha256, MatchesRfc4231TestCase2) {
  EXPECT_EQ(HexEncode(HmacSha256Raw("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256, MatchesGitHubsPublishedExample) {
  EXPECT_EQ(HexEncode(HmacSha256Raw("It's a Secret to Everybody", "Hello, World!")),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST(Base64, RoundTripsEveryByteAndRefusesWhatIsNotBase64) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(Base64Decode(Base64Encode(all)), all);
  EXPECT_EQ(Base64Encode("Man"), "TWFu");
  EXPECT_EQ(Base64Encode("Ma"), "TWE=");
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Decode("TWE="), "Ma");
  EXPECT_FALSE(Base64Decode("T!E=").has_value());
}

TEST(ConstantTimeEquals, AnswersLikeEqualityWhereverValuesDiffer) {
  const std::string token = "glptt-0123456789abcdef0123456789abcdef01234567";
  EXPECT_TRUE(ConstantTimeEquals(token, token));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  std::string first = token, last = token;
  first[0] = 'x';
  last[last.size() - 1] = 'x';
  EXPECT_FALSE(ConstantTimeEquals(token, first));
  EXPECT_FALSE(ConstantTimeEquals(token, last));
  EXPECT_FALSE(ConstantTimeEquals(token, token.substr(0, token.size() - 1))) << "a prefix";
  EXPECT_FALSE(ConstantTimeEquals(token, token + "0")) << "an extension";
  EXPECT_FALSE(ConstantTimeEquals(token, ""));
  // Embedded NUL bytes count like any other byte.
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
  EXPECT_TRUE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0b", 3)));
}

}  // namespace
}  // namespace sluice
