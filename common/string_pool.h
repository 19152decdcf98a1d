#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sluice {

// Strings that many executions share (job names, clients, workers, a repository's links, env
// overrides), each held once and counted: a string is dropped when the last execution holding
// it lets it go, so the pool is bounded by the strings of the executions held, not by history.
// Not thread-safe; its owner locks.
class StringPool {
 public:
  static constexpr uint32_t kEmpty = 0;  // the id of "": never stored, never counted

  StringPool();
  // The id of `text`, with one more reference to it.
  uint32_t Intern(std::string_view text);
  // One reference less; the string is dropped at none.
  void Release(uint32_t id);
  const std::string& Get(uint32_t id) const { return entries_[id].text; }
  // Distinct strings held ("" not counted).
  size_t size() const { return index_.size(); }
  // About how many bytes the pool takes (entries, index, the texts).
  size_t MemoryBytes() const { return entries_.size() * 48 + index_.size() * 64 + text_bytes_; }

 private:
  struct Entry {
    std::string text;
    uint32_t refs = 0;
  };
  std::deque<Entry> entries_;  // by id; a deque, so that index_'s views stay valid as it grows
  std::vector<uint32_t> free_;
  size_t text_bytes_ = 0;  // of texts past std::string's inline 15 characters
  std::unordered_map<std::string_view, uint32_t> index_;
};

}  // namespace sluice
