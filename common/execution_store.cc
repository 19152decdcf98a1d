#include "common/execution_store.h"

#include <mutex>

#include "common/crypto.h"

namespace sluice {
namespace {

int Rank(JobStatus s) {
  if (IsTerminal(s)) return 2;
  if (s == JobStatus::kPending) return 1;
  return 0;
}

long long Millis(const std::optional<TimePoint>& t) {
  if (!t) return 0;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

}  // namespace

bool Supersedes(const Execution& incoming, const Execution& current) {
  int in_rank = Rank(incoming.job_status);
  int cur_rank = Rank(current.job_status);
  if (cur_rank == 2) return false;  // the first terminal state is final
  if (incoming.takes_over && current.job_status == JobStatus::kPending) {
    const LeaseTakeover& lost = *incoming.takes_over;
    if (current.worker != lost.worker || current.attempt != lost.attempt ||
        Millis(current.heartbeat_time) != Millis(lost.heartbeat_time)) {
      return false;  // the holder renewed its claim (or someone else took over) first
    }
  }
  if (in_rank != cur_rank) return in_rank > cur_rank;
  if (in_rank == 0) return false;  // a second TRIGGERED record adds nothing
  if (incoming.attempt != current.attempt) return incoming.attempt > current.attempt;
  if (incoming.worker != current.worker) return false;  // a competing claim for this attempt
  return Millis(incoming.heartbeat_time) >= Millis(current.heartbeat_time);
}

ExecutionStore::OrderKey ExecutionStore::KeyOf(const Execution& e) {
  return {Millis(e.create_time), e.id};
}

bool ExecutionStore::Apply(const Execution& record) {
  Execution changed;
  {
    std::unique_lock lock(mutex_);
    auto it = by_id_.find(record.id);
    if (it == by_id_.end()) {
      Execution first = record;
      first.seen_time = clock_.Now();
      order_.insert(KeyOf(first));
      by_id_.emplace(record.id, std::move(first));
    } else {
      if (!Supersedes(record, it->second)) return false;
      Execution merged = record;
      merged.seen_time = clock_.Now();
      // Keep what only the first record knew (a worker may not repeat every field).
      if (!merged.create_time) merged.create_time = it->second.create_time;
      if (merged.client.empty()) merged.client = it->second.client;
      if (merged.fingerprint.empty()) merged.fingerprint = it->second.fingerprint;
      if (!it->second.job_token_sha256.empty() &&
          merged.job_token_sha256 != it->second.job_token_sha256) {
        job_tokens_.erase(it->second.job_token_sha256);  // that attempt's token ends with it
      }
      order_.erase(KeyOf(it->second));
      order_.insert(KeyOf(merged));
      it->second = std::move(merged);
    }
    changed = by_id_.at(record.id);
    if (!changed.job_token_sha256.empty()) job_tokens_[changed.job_token_sha256] = changed.id;
  }
  for (const auto& listener : listeners_) listener(changed);
  return true;
}

std::optional<Execution> ExecutionStore::RunningWithJobToken(const std::string& sha256) const {
  std::shared_lock lock(mutex_);
  auto id = job_tokens_.find(sha256);
  if (id == job_tokens_.end()) return std::nullopt;
  const Execution& e = by_id_.at(id->second);
  if (e.job_status != JobStatus::kPending || e.job_token_sha256 != sha256) return std::nullopt;
  return e;
}

std::optional<Execution> ExecutionStore::Get(const std::string& id) const {
  std::shared_lock lock(mutex_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

size_t ExecutionStore::size() const {
  std::shared_lock lock(mutex_);
  return by_id_.size();
}

void ExecutionStore::OnChange(std::function<void(const Execution&)> listener) {
  std::unique_lock lock(mutex_);
  listeners_.push_back(std::move(listener));
}

ListPage ExecutionStore::List(const ListQuery& query) const {
  ListPage page;
  std::shared_lock lock(mutex_);
  auto it = order_.rbegin();
  if (!query.page_token.empty()) {
    auto after = DecodePageToken(query.page_token);
    if (after) {
      // First key strictly older than the token's.
      auto pos = order_.lower_bound(*after);
      it = std::make_reverse_iterator(pos);
    }
  }
  size_t limit = query.page_size == 0 ? 1 : query.page_size;
  for (; it != order_.rend(); ++it) {
    const Execution& e = by_id_.at(it->second);
    if (!query.job_name.empty() && e.job_name != query.job_name) continue;
    if (query.status && e.job_status != *query.status) continue;
    if (query.visible && !query.visible(e.job_name)) continue;
    if (page.executions.size() == limit) {
      const Execution& last = page.executions.back();
      page.next_page_token = EncodePageToken(Millis(last.create_time), last.id);
      break;
    }
    page.executions.push_back(e);
  }
  return page;
}

std::string EncodePageToken(long long create_ms, const std::string& id) {
  return HexEncode(std::to_string(create_ms) + "." + id);
}

std::optional<std::pair<long long, std::string>> DecodePageToken(const std::string& token) {
  if (token.size() % 2 != 0 || token.size() > 200) return std::nullopt;
  std::string raw;
  for (size_t i = 0; i < token.size(); i += 2) {
    int hi = std::isxdigit(static_cast<unsigned char>(token[i]))
                 ? std::stoi(token.substr(i, 1), nullptr, 16)
                 : -1;
    int lo = std::isxdigit(static_cast<unsigned char>(token[i + 1]))
                 ? std::stoi(token.substr(i + 1, 1), nullptr, 16)
                 : -1;
    if (hi < 0 || lo < 0) return std::nullopt;
    raw.push_back(static_cast<char>(hi * 16 + lo));
  }
  auto dot = raw.find('.');
  if (dot == std::string::npos || dot == 0 || dot > 18) return std::nullopt;  // fits 64 bits
  long long ms = 0;
  for (size_t i = 0; i < dot; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(raw[i]))) return std::nullopt;
    ms = ms * 10 + (raw[i] - '0');
  }
  return std::make_pair(ms, raw.substr(dot + 1));
}

}  // namespace sluice
