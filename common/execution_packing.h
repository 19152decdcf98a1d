#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/execution.h"
#include "common/string_pool.h"

// How the status view packs an execution (common/execution_store.h): the id as 16 bytes, and the
// fields read only when a whole record is asked for (refs, pod spec options, gcs_path, message,
// fingerprint, takes_over, pipeline ids, job token hash) as one compact byte string.
namespace sluice {

// A lower-case canonical UUID (what execution_id.h draws) as its 16 bytes; false for any other
// id (upper case, GitLab's decimal job ids, ...), which is then kept as text.
bool PackUuid(std::string_view id, uint8_t out[16]);
std::string UnpackUuid(const uint8_t bytes[16]);

// Bytes owned through one pointer, their length in front: 8 bytes where a std::string takes 32.
class PackedBytes {
 public:
  PackedBytes() = default;
  explicit PackedBytes(std::string_view bytes);
  std::string_view view() const;
  bool empty() const { return data_ == nullptr; }

 private:
  std::unique_ptr<char[]> data_;
};

// The rarely read fields of `e` (with `fingerprint` in place of e.fingerprint), appended to
// `out`, which is cleared first. Strings executions share are interned in `pool`, one reference
// each; ReleaseCold gives them back. Lower-case hex (shas, hashes) is kept as bytes, and links
// and paths that follow from other fields (GitHub's commit and pull links, <root>/<job>/<id>) as
// one byte: DecodeCold gives every field back exactly as it was.
void EncodeCold(const Execution& e, std::string_view fingerprint, StringPool& pool,
                std::string* out);
// Fills those fields of `e`, whose id and job_name must be set already.
void DecodeCold(std::string_view packed, const StringPool& pool, Execution* e);
void ReleaseCold(std::string_view packed, StringPool& pool);

}  // namespace sluice
