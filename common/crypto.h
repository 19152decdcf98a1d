#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Lower-case hex SHA-256 of data.
std::string Sha256Hex(std::string_view data);
// Raw 32-byte SHA-256 of data.
std::string Sha256Raw(std::string_view data);
// Compares without an early exit, so the time taken does not reveal where a token differs.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// n bytes from the operating system's CSPRNG.
std::string RandomBytes(size_t n);
std::string HexEncode(std::string_view bytes);

}  // namespace sluice
