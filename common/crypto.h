#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

// Lower-case hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);
// Raw 32-byte SHA-256 of data.
std::string Sha256Raw(std::string_view data);
// Compares the SHA-256 digests of both without an early exit, so the time taken reveals neither
// where two values differ nor whether their lengths do (bench/signature_compare measures it).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Compares two digests of the same algorithm (whose length is public) without an early exit:
// what ConstantTimeEquals does, without hashing them again.
bool DigestsEqual(std::string_view a, std::string_view b);
// Raw 32-byte HMAC-SHA256 of data under key.
std::string HmacSha256Raw(std::string_view key, std::string_view data);
// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(std::string_view bytes);
// The bytes of standard base64 text (padding optional); nullopt for a character outside it.
std::optional<std::string> Base64Decode(std::string_view text);
// n bytes from the operating system's CSPRNG.
std::string RandomBytes(size_t n);
std::string HexEncode(std::string_view bytes);
// The bytes of hex text (either case); nullopt for an odd length or a character outside it.
std::optional<std::string> HexDecode(std::string_view text);

// AES-256-GCM, for secrets Sluice must give back later (a trigger token to its owner): `key` is
// 32 bytes; `context` is authenticated but not encrypted (what the secret belongs to, so that a
// sealed value copied to another record does not open there). The result is base64 of a random
// 12-byte nonce, the ciphertext and the 16-byte tag.
constexpr size_t kSealKeyBytes = 32;
std::string Seal(std::string_view key, std::string_view plaintext, std::string_view context);
// The plaintext of Seal's output, or nullopt when the key, the context or any byte differs.
std::optional<std::string> Open(std::string_view key, std::string_view sealed,
                                std::string_view context);

}  // namespace sluice
