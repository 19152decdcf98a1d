#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/execution.h"
#include "common/execution_packing.h"
#include "common/string_pool.h"

namespace sluice {

inline constexpr int64_t kNoTime = INT64_MIN;

// One execution as the status view holds it: 88 bytes, plus its packed cold fields.
struct ExecutionSlot {
  uint8_t uuid[16] = {};  // the id's bytes when it is a lower-case UUID
  int64_t create_ms = kNoTime;
  int64_t start_ms = kNoTime;
  int64_t completion_ms = kNoTime;
  int64_t heartbeat_ms = kNoTime;
  int64_t seen_ms = kNoTime;
  PackedBytes cold;  // EncodeCold
  uint32_t job = 0;  // pooled strings
  uint32_t client = 0;
  uint32_t worker = 0;
  uint32_t id_text = 0;  // the pooled id when it is not a lower-case UUID
  int32_t attempt = 0;
  uint8_t status = 0;
  uint8_t type = 0;
  bool live = false;
};

// The executions of the status view: slots in chunks, a hash index by id and the create-time
// order, all of slot numbers. Not thread-safe: ExecutionStore locks.
class ExecutionSlots {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  using OrderKey = std::pair<long long, std::string>;  // (create time ms, id)

  ExecutionSlots() = default;
  ExecutionSlots(const ExecutionSlots&) = delete;
  ExecutionSlots& operator=(const ExecutionSlots&) = delete;

  uint32_t Find(std::string_view id) const;
  // A slot for the new execution `record`.
  uint32_t Add(const Execution& record, int64_t seen_ms);
  // Makes `record` the state of slot `s`, keeping what only the earlier record knew (create
  // time, client, fingerprint: a worker need not repeat them). The packed cold fields are
  // rewritten only when they changed (not for a heartbeat).
  void Replace(uint32_t s, const Execution& record, int64_t seen_ms);
  void Remove(uint32_t s);

  const ExecutionSlot& operator[](uint32_t s) const { return Slot(s); }
  Execution Materialize(uint32_t s) const;
  ExecutionState State(uint32_t s) const;
  std::string Id(uint32_t s) const;
  const std::string& Text(uint32_t pooled) const { return pool_.Get(pooled); }

  size_t size() const { return size_; }
  // One past the highest slot number in use or free: the range a sweep walks.
  uint32_t end() const { return end_; }
  size_t pooled_strings() const { return pool_.size(); }
  // About how many bytes all this takes: slot chunks, the id index, the create order, the
  // packed cold fields and the pooled strings, with malloc's own overhead.
  size_t MemoryBytes() const;

  // Slot numbers newest first (create time, then id), from the first older than `after` when
  // given, until `visit` returns false.
  void NewestFirst(const std::optional<OrderKey>& after,
                   const std::function<bool(uint32_t)>& visit) const;

 private:
  static constexpr uint32_t kChunkBits = 12;  // 4096 slots (352 KiB) a chunk
  static constexpr size_t kBlock = 256;       // create-order entries a block, at most

  struct OrderEntry {
    int64_t ms;
    uint32_t slot;
  };

  ExecutionSlot& Slot(uint32_t s) const {
    return chunks_[s >> kChunkBits][s & ((1u << kChunkBits) - 1)];
  }
  void Fill(ExecutionSlot& slot, const Execution& record, int64_t seen_ms);
  uint32_t Intern(std::string_view text, uint32_t old);

  // Id index: open addressing, linear probing, of slot numbers.
  uint64_t HashOf(uint32_t s) const;
  void IndexInsert(uint32_t s);
  void IndexErase(uint32_t s);
  void Grow();

  // Create order: sorted blocks of (create ms, slot).
  static int64_t OrderMs(const ExecutionSlot& slot);
  bool Less(const OrderEntry& a, const OrderEntry& b) const;
  bool LessThanKey(const OrderEntry& a, const OrderKey& key) const;
  void OrderInsert(OrderEntry e);
  void OrderErase(OrderEntry e);

  mutable std::vector<std::unique_ptr<ExecutionSlot[]>> chunks_;
  std::vector<uint32_t> free_;
  uint32_t end_ = 0;
  size_t size_ = 0;
  std::vector<uint32_t> buckets_;  // kNone: empty
  std::vector<std::vector<OrderEntry>> blocks_;
  StringPool pool_;
  size_t cold_bytes_ = 0;  // the packed cold fields' allocations
  std::string scratch_;    // the cold fields being packed
};

}  // namespace sluice
