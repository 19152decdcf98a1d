#pragma once

#include <string>
#include <string_view>

namespace sluice {

// Decodes %XX escapes, and "+" as a space (form and query-string encoding). A "%" not followed
// by two hex digits is kept as it is.
std::string PercentDecode(std::string_view in);

}  // namespace sluice
