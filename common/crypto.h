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
// Raw 32-byte HMAC-SHA256 of data under key.
std::string HmacSha256Raw(std::string_view key, std::string_view data);
// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(std::string_view bytes);
// The bytes of standard base64 text (padding optional); nullopt for a character outside it.
std::optional<std::string> Base64Decode(std::string_view text);
// n bytes from the operating system's CSPRNG.
std::string RandomBytes(size_t n);
std::string HexEncode(std::string_view bytes);

}  // namespace sluice
