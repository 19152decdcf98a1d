// Sealing a secret with AES-256-GCM (common/crypto.h), as trigger tokens are kept for their
// owners: the round trip, and the refusal of anything changed: a byte of the sealed text, the
// key, the context it was sealed for.

#include <gtest/gtest.h>

#include <string>

#include "common/crypto.h"

namespace sluice {
namespace {

const std::string kKey(kSealKeyBytes, '\x42');

TEST(Seal, RoundTripsAndDrawsANewNonceEachTime) {
  std::string token = "glptt-0123456789abcdef0123456789abcdef01234567";
  std::string a = Seal(kKey, token, "9/17");
  std::string b = Seal(kKey, token, "9/17");
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find(token), std::string::npos);
  EXPECT_EQ(Open(kKey, a, "9/17"), token);
  EXPECT_EQ(Open(kKey, b, "9/17"), token);
  EXPECT_EQ(Open(kKey, Seal(kKey, "", "x"), "x"), "");
}

TEST(Seal, RefusesATamperedByteAnywhere) {
  std::string sealed = Seal(kKey, "glptt-secret", "9/17");
  std::string raw = *Base64Decode(sealed);
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string changed = raw;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    EXPECT_EQ(Open(kKey, Base64Encode(changed), "9/17"), std::nullopt) << "byte " << i;
  }
  EXPECT_EQ(Open(kKey, Base64Encode(raw.substr(0, raw.size() - 1)), "9/17"), std::nullopt);
  EXPECT_EQ(Open(kKey, "", "9/17"), std::nullopt);
  EXPECT_EQ(Open(kKey, "not base64!", "9/17"), std::nullopt);
}

TEST(Seal, RefusesAnotherKeyOrContext) {
  std::string sealed = Seal(kKey, "glptt-secret", "9/17");
  EXPECT_EQ(Open(std::string(kSealKeyBytes, '\x43'), sealed, "9/17"), std::nullopt);
  EXPECT_EQ(Open(kKey, sealed, "9/18"), std::nullopt);
  EXPECT_EQ(Open("short", sealed, "9/17"), std::nullopt);
}

TEST(HexDecode, ReadsBothCasesAndRefusesTheRest) {
  EXPECT_EQ(HexDecode("00ff7Fa0"), std::string("\x00\xff\x7f\xa0", 4));
  EXPECT_EQ(HexDecode(""), "");
  EXPECT_EQ(HexDecode("abc"), std::nullopt);
  EXPECT_EQ(HexDecode("zz"), std::nullopt);
}

}  // namespace
}  // namespace sluice
