#include "common/record_limits.h"

namespace sluice {

FieldSize LargestEntry(const std::map<std::string, std::string>& entries, std::string_view field) {
  FieldSize largest;
  for (const auto& [name, value] : entries) {
    if (!largest.path.empty() && name.size() + value.size() <= largest.bytes) continue;
    largest.path = std::string(field) + "." + EchoValue(name);
    largest.bytes = name.size() + value.size();
  }
  return largest;
}

Status CheckRecordFits(std::string_view what, size_t record_bytes, size_t reserve,
                       const std::function<FieldSize()>& largest) {
  size_t limit = kMaxRecordBytes - kRecordOverheadBytes - reserve;
  if (record_bytes <= limit) return Status::Ok();
  FieldSize field = largest();
  std::string message = "the request is too large for Kafka: " + std::string(what) + " would be " +
                        std::to_string(record_bytes) + " bytes, and the limit is " +
                        std::to_string(limit) + " bytes (max.message.bytes " +
                        std::to_string(kMaxRecordBytes) +
                        " less room for Kafka's overhead and later records)";
  if (!field.path.empty()) {
    message +=
        "; the largest field is " + field.path + " (" + std::to_string(field.bytes) + " bytes)";
  }
  return Status(Code::kInvalidArgument, message).WithHttpStatus(413);
}

}  // namespace sluice
