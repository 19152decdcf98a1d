#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/api.h"

namespace sluice {

// A byte range of a file of `size` bytes: [first, last], both included.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

// The range a `Range` header asks of a file of `size` bytes (RFC 9110 §14: "bytes=N-",
// "bytes=N-M", "bytes=-K"). nullopt when the header is absent, malformed, asks for several ranges
// or is not in bytes: the whole file is sent, as the RFC allows. `unsatisfiable` is set when the
// header is well-formed but starts at or past the end.
std::optional<ByteRange> ParseRange(std::string_view header, uint64_t size, bool* unsatisfiable);

// The answer to a read of a job's log file at `path`: from byte `offset` when given, else the
// `Range` header's bytes (206 with Content-Range, or 416 with "bytes */size"), else the whole
// file; at most `max_bytes` (the last ones of a larger file). Every answer says
// `Accept-Ranges: bytes`. nullopt when the file cannot be opened: the caller knows whether that
// means "nothing yet" or "not readable here".
std::optional<ApiReply> LogFileReply(const std::string& path, std::string_view range_header,
                                     std::optional<uint64_t> offset, size_t max_bytes);

}  // namespace sluice
