#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Decodes %XX escapes, and "+" as a space (form and query-string encoding). A "%" not followed
// by two hex digits is kept as it is.
std::string PercentDecode(std::string_view in);
// Escapes every byte but RFC 3986's unreserved characters (letters, digits, "-._~") as %XX, for
// a query-string key or value.
std::string PercentEncode(std::string_view in);

}  // namespace sluice
