#include "common/execution_slots.h"

#include <algorithm>
#include <cstring>

namespace sluice {
namespace {

int64_t ToMs(const std::optional<TimePoint>& t) {
  if (!t) return kNoTime;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

std::optional<TimePoint> ToTime(int64_t ms) {
  if (ms == kNoTime) return std::nullopt;
  return TimePoint(std::chrono::milliseconds(ms));
}

uint64_t Mix(uint64_t h) {
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 29;
  return h;
}

uint64_t HashUuid(const uint8_t b[16]) {
  uint64_t lo = 0;
  uint64_t hi = 0;
  std::memcpy(&lo, b, 8);
  std::memcpy(&hi, b + 8, 8);
  return Mix(lo ^ (hi * 0x9e3779b97f4a7c15ULL));
}

uint64_t HashText(std::string_view id) { return Mix(std::hash<std::string_view>{}(id)); }

// A packed cold part with nothing in it (no pooled ids, no field present) is not stored.
bool NothingPacked(const std::string& packed) {
  return packed.size() == 2 && packed == std::string(2, '\0');
}

// What malloc takes for packed bytes of `n` (a length varint in front, an 8-byte header,
// 16-byte granules).
size_t Allocated(size_t n) {
  size_t length = n < 128 ? 1 : n < 16384 ? 2 : 3;
  return std::max<size_t>(32, (n + length + 8 + 15) / 16 * 16);
}

}  // namespace

size_t ExecutionSlots::MemoryBytes() const {
  size_t order = 0;
  for (const auto& block : blocks_) order += block.capacity() * sizeof(OrderEntry) + 16;
  return chunks_.size() * (sizeof(ExecutionSlot) << kChunkBits) +
         buckets_.size() * sizeof(uint32_t) + free_.capacity() * sizeof(uint32_t) + order +
         cold_bytes_ + pool_.MemoryBytes();
}

uint32_t ExecutionSlots::Find(std::string_view id) const {
  if (buckets_.empty() || id.empty()) return kNone;
  uint8_t uuid[16];
  bool packed = PackUuid(id, uuid);
  const size_t mask = buckets_.size() - 1;
  for (size_t i = (packed ? HashUuid(uuid) : HashText(id)) & mask; buckets_[i] != kNone;
       i = (i + 1) & mask) {
    const ExecutionSlot& slot = Slot(buckets_[i]);
    bool same = packed ? slot.id_text == 0 && std::memcmp(slot.uuid, uuid, 16) == 0
                       : slot.id_text != 0 && pool_.Get(slot.id_text) == id;
    if (same) return buckets_[i];
  }
  return kNone;
}

uint32_t ExecutionSlots::Add(const Execution& record, int64_t seen_ms) {
  uint32_t s;
  if (!free_.empty()) {
    s = free_.back();
    free_.pop_back();
  } else {
    s = end_++;
    if ((s >> kChunkBits) >= chunks_.size()) {
      chunks_.push_back(std::make_unique<ExecutionSlot[]>(size_t{1} << kChunkBits));
    }
  }
  ExecutionSlot& slot = Slot(s);
  if (!PackUuid(record.id, slot.uuid)) {
    std::memset(slot.uuid, 0, sizeof slot.uuid);
    slot.id_text = pool_.Intern(record.id);
  }
  slot.live = true;
  Fill(slot, record, seen_ms);
  IndexInsert(s);
  ++size_;
  OrderInsert({OrderMs(slot), s});
  return s;
}

void ExecutionSlots::Replace(uint32_t s, const Execution& record, int64_t seen_ms) {
  ExecutionSlot& slot = Slot(s);
  const int64_t old_order = OrderMs(slot);
  Fill(slot, record, seen_ms);
  if (OrderMs(slot) != old_order) {
    OrderErase({old_order, s});
    OrderInsert({OrderMs(slot), s});
  }
}

void ExecutionSlots::Fill(ExecutionSlot& slot, const Execution& record, int64_t seen_ms) {
  std::string kept_fingerprint;
  std::string_view fingerprint = record.fingerprint;
  if (fingerprint.empty() && !slot.cold.empty()) {
    Execution earlier;
    earlier.id = record.id;
    earlier.job_name = pool_.Get(slot.job);
    DecodeCold(slot.cold.view(), pool_, &earlier);
    kept_fingerprint = std::move(earlier.fingerprint);
    fingerprint = kept_fingerprint;
  }
  if (record.create_time) slot.create_ms = ToMs(record.create_time);
  if (!record.client.empty()) slot.client = Intern(record.client, slot.client);
  slot.job = Intern(record.job_name, slot.job);
  slot.worker = Intern(record.worker, slot.worker);
  slot.start_ms = ToMs(record.start_time);
  slot.completion_ms = ToMs(record.completion_time);
  slot.heartbeat_ms = ToMs(record.heartbeat_time);
  slot.seen_ms = seen_ms;
  slot.attempt = record.attempt;
  slot.status = static_cast<uint8_t>(record.job_status);
  slot.type = static_cast<uint8_t>(record.job_type);

  EncodeCold(record, fingerprint, pool_, &scratch_);
  if (NothingPacked(scratch_)) scratch_.clear();
  if (scratch_ == slot.cold.view()) {
    ReleaseCold(scratch_, pool_);  // the same: keep the stored bytes and their references
    return;
  }
  if (!slot.cold.empty()) {
    ReleaseCold(slot.cold.view(), pool_);
    cold_bytes_ -= Allocated(slot.cold.view().size());
  }
  slot.cold = scratch_.empty() ? PackedBytes() : PackedBytes(scratch_);
  if (!scratch_.empty()) cold_bytes_ += Allocated(scratch_.size());
}

uint32_t ExecutionSlots::Intern(std::string_view text, uint32_t old) {
  uint32_t id = pool_.Intern(text);
  pool_.Release(old);
  return id;
}

void ExecutionSlots::Remove(uint32_t s) {
  ExecutionSlot& slot = Slot(s);
  OrderErase({OrderMs(slot), s});
  IndexErase(s);
  for (uint32_t id : {slot.job, slot.client, slot.worker, slot.id_text}) pool_.Release(id);
  if (!slot.cold.empty()) {
    ReleaseCold(slot.cold.view(), pool_);
    cold_bytes_ -= Allocated(slot.cold.view().size());
  }
  slot = ExecutionSlot();
  free_.push_back(s);
  --size_;
}

Execution ExecutionSlots::Materialize(uint32_t s) const {
  const ExecutionSlot& slot = Slot(s);
  Execution e;
  e.id = Id(s);
  e.job_name = pool_.Get(slot.job);
  e.job_type = static_cast<JobType>(slot.type);
  e.job_status = static_cast<JobStatus>(slot.status);
  e.create_time = ToTime(slot.create_ms);
  e.start_time = ToTime(slot.start_ms);
  e.completion_time = ToTime(slot.completion_ms);
  e.heartbeat_time = ToTime(slot.heartbeat_ms);
  e.seen_time = ToTime(slot.seen_ms);
  e.client = pool_.Get(slot.client);
  e.worker = pool_.Get(slot.worker);
  e.attempt = slot.attempt;
  if (!slot.cold.empty()) DecodeCold(slot.cold.view(), pool_, &e);
  return e;
}

ExecutionState ExecutionSlots::State(uint32_t s) const {
  const ExecutionSlot& slot = Slot(s);
  ExecutionState state;
  state.job_status = static_cast<JobStatus>(slot.status);
  state.attempt = slot.attempt;
  state.worker = pool_.Get(slot.worker);
  state.create_time = ToTime(slot.create_ms);
  state.start_time = ToTime(slot.start_ms);
  state.completion_time = ToTime(slot.completion_ms);
  state.heartbeat_time = ToTime(slot.heartbeat_ms);
  state.seen_time = ToTime(slot.seen_ms);
  return state;
}

std::string ExecutionSlots::Id(uint32_t s) const {
  const ExecutionSlot& slot = Slot(s);
  return slot.id_text != 0 ? pool_.Get(slot.id_text) : UnpackUuid(slot.uuid);
}

// --- id index ---

uint64_t ExecutionSlots::HashOf(uint32_t s) const {
  const ExecutionSlot& slot = Slot(s);
  return slot.id_text != 0 ? HashText(pool_.Get(slot.id_text)) : HashUuid(slot.uuid);
}

void ExecutionSlots::IndexInsert(uint32_t s) {
  if ((size_ + 1) * 4 > buckets_.size() * 3) Grow();
  const size_t mask = buckets_.size() - 1;
  size_t i = HashOf(s) & mask;
  while (buckets_[i] != kNone) i = (i + 1) & mask;
  buckets_[i] = s;
}

void ExecutionSlots::IndexErase(uint32_t s) {
  const size_t mask = buckets_.size() - 1;
  size_t i = HashOf(s) & mask;
  while (buckets_[i] != s) {
    if (buckets_[i] == kNone) return;
    i = (i + 1) & mask;
  }
  // Backward-shift deletion: move up every later entry of the run that may fill the hole.
  for (size_t j = (i + 1) & mask; buckets_[j] != kNone; j = (j + 1) & mask) {
    size_t home = HashOf(buckets_[j]) & mask;
    bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      buckets_[i] = buckets_[j];
      i = j;
    }
  }
  buckets_[i] = kNone;
}

void ExecutionSlots::Grow() {
  std::vector<uint32_t> old = std::move(buckets_);
  buckets_.assign(std::max<size_t>(1024, old.size() * 2), kNone);
  const size_t mask = buckets_.size() - 1;
  for (uint32_t s : old) {
    if (s == kNone) continue;
    size_t i = HashOf(s) & mask;
    while (buckets_[i] != kNone) i = (i + 1) & mask;
    buckets_[i] = s;
  }
}

// --- create order ---

int64_t ExecutionSlots::OrderMs(const ExecutionSlot& slot) {
  return slot.create_ms == kNoTime ? 0 : slot.create_ms;  // as ListQuery always ordered them
}

bool ExecutionSlots::Less(const OrderEntry& a, const OrderEntry& b) const {
  if (a.ms != b.ms) return a.ms < b.ms;
  const ExecutionSlot& x = Slot(a.slot);
  const ExecutionSlot& y = Slot(b.slot);
  // Lower-case hex sorts as its bytes do.
  if (x.id_text == 0 && y.id_text == 0) return std::memcmp(x.uuid, y.uuid, 16) < 0;
  return Id(a.slot) < Id(b.slot);
}

bool ExecutionSlots::LessThanKey(const OrderEntry& a, const OrderKey& key) const {
  if (a.ms != key.first) return a.ms < key.first;
  return Id(a.slot) < key.second;
}

void ExecutionSlots::OrderInsert(OrderEntry e) {
  auto fresh_block = [] {
    std::vector<OrderEntry> block;
    block.reserve(kBlock);
    return block;
  };
  auto b = std::partition_point(blocks_.begin(), blocks_.end(),
                                [&](const auto& block) { return Less(block.back(), e); });
  if (b == blocks_.end()) {  // after every entry: the usual case, ids arrive about in order
    if (blocks_.empty() || blocks_.back().size() == kBlock) blocks_.push_back(fresh_block());
    blocks_.back().push_back(e);
    return;
  }
  if (b->size() == kBlock) {  // split a full block before it would grow past its capacity
    std::vector<OrderEntry> upper = fresh_block();
    upper.assign(b->begin() + kBlock / 2, b->end());
    b->resize(kBlock / 2);
    b = blocks_.insert(b + 1, std::move(upper)) - 1;
    if (Less(b->back(), e)) ++b;
  }
  auto pos =
      std::partition_point(b->begin(), b->end(), [&](const OrderEntry& x) { return Less(x, e); });
  b->insert(pos, e);
}

void ExecutionSlots::OrderErase(OrderEntry e) {
  auto b = std::partition_point(blocks_.begin(), blocks_.end(),
                                [&](const auto& block) { return Less(block.back(), e); });
  if (b == blocks_.end()) return;
  auto pos =
      std::partition_point(b->begin(), b->end(), [&](const OrderEntry& x) { return Less(x, e); });
  if (pos == b->end() || pos->slot != e.slot) return;
  b->erase(pos);
  if (b->empty()) blocks_.erase(b);
}

void ExecutionSlots::NewestFirst(const std::optional<OrderKey>& after,
                                 const std::function<bool(uint32_t)>& visit) const {
  // Position (b, o): before entry o of block b.
  size_t b = blocks_.size();
  size_t o = 0;
  if (after) {
    auto block = std::partition_point(blocks_.begin(), blocks_.end(),
                                      [&](const auto& x) { return LessThanKey(x.back(), *after); });
    b = static_cast<size_t>(block - blocks_.begin());
    if (block != blocks_.end()) {
      o = static_cast<size_t>(
          std::partition_point(block->begin(), block->end(),
                               [&](const OrderEntry& x) { return LessThanKey(x, *after); }) -
          block->begin());
    }
  }
  if (b == blocks_.size()) {
    if (b == 0) return;
    --b;
    o = blocks_[b].size();
  }
  while (true) {
    while (o > 0) {
      --o;
      if (!visit(blocks_[b][o].slot)) return;
    }
    if (b == 0) return;
    --b;
    o = blocks_[b].size();
  }
}

}  // namespace sluice
