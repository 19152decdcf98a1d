#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

// The length of the well-formed UTF-8 sequence that starts at text[pos] (1 to 4), or 0 when the
// bytes there are not one: a stray continuation byte, a truncated sequence, an overlong form, a
// surrogate (U+D800..U+DFFF, which RapidJSON writes for an escaped lone "\udc00") or a code point
// above U+10FFFF. This is RFC 3629's table, the strictness JSON parsers of other languages apply.
size_t Utf8SequenceLength(std::string_view text, size_t pos);

// Whether every byte of text belongs to a well-formed UTF-8 sequence.
bool IsValidUtf8(std::string_view text);

// text with every byte that is not part of a well-formed sequence replaced by U+FFFD.
std::string ReplaceInvalidUtf8(std::string_view text);

}  // namespace sluice
