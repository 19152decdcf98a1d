#include "common/string_pool.h"

namespace sluice {

StringPool::StringPool() { entries_.emplace_back(); }

uint32_t StringPool::Intern(std::string_view text) {
  if (text.empty()) return kEmpty;
  auto it = index_.find(text);
  if (it != index_.end()) {
    ++entries_[it->second].refs;
    return it->second;
  }
  uint32_t id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  Entry& entry = entries_[id];
  entry.text.assign(text);
  entry.refs = 1;
  if (entry.text.size() > 15) text_bytes_ += entry.text.capacity() + 1;
  index_.emplace(std::string_view(entry.text), id);
  return id;
}

void StringPool::Release(uint32_t id) {
  if (id == kEmpty) return;
  Entry& entry = entries_[id];
  if (--entry.refs > 0) return;
  index_.erase(std::string_view(entry.text));
  if (entry.text.size() > 15) text_bytes_ -= entry.text.capacity() + 1;
  std::string().swap(entry.text);  // give the memory back, not only the length
  free_.push_back(id);
}

}  // namespace sluice
