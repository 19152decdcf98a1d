#include "common/execution_id.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "common/crypto.h"

namespace sluice {
namespace {

std::string Format(const unsigned char b[16]) {
  std::string hex = HexEncode(std::string_view(reinterpret_cast<const char*>(b), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

}  // namespace

std::string NewExecutionIdV7(TimePoint now) {
  uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  std::string rnd = RandomBytes(10);
  unsigned char b[16];
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  for (int i = 0; i < 10; ++i) b[6 + i] = static_cast<unsigned char>(rnd[i]);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  return Format(b);
}

namespace {

// A version 8 UUID from SHA-256 of the parts, each ended by a NUL, after a domain label.
std::string UuidV8Of(std::string_view domain, std::initializer_list<std::string_view> parts) {
  std::string material(domain);
  for (std::string_view part : parts) {
    material.push_back('\0');
    material.append(part);
  }
  std::string digest = Sha256Raw(material);
  unsigned char b[16];
  for (int i = 0; i < 16; ++i) b[i] = static_cast<unsigned char>(digest[i]);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x80);  // version 8
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  return Format(b);
}

}  // namespace

std::string ExecutionIdForIdempotencyKey(std::string_view client, std::string_view key) {
  return UuidV8Of("sluice.idempotency.v1", {client, key});
}

std::string ExecutionIdForDelivery(std::string_view host, std::string_view delivery_id, int replay,
                                   std::string_view job) {
  std::string generation = std::to_string(replay);
  return UuidV8Of("sluice.delivery.v1", {host, delivery_id, generation, job});
}

bool IsExecutionId(std::string_view t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (t[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(t[i]))) {
      return false;
    }
  }
  return true;
}

int64_t NewNumericId(TimePoint now) {
  constexpr int64_t kEpoch2020Ms = 1577836800000;
  int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::string random = RandomBytes(2);
  int64_t low =
      ((static_cast<unsigned char>(random[0]) << 8) | static_cast<unsigned char>(random[1])) &
      0x7ff;
  return (std::max<int64_t>(ms - kEpoch2020Ms, 0) << 11) | low;
}

}  // namespace sluice
