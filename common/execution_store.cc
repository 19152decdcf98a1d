#include "common/execution_store.h"

#include <algorithm>
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

// What Supersedes reads of the current state, wherever it is held.
struct Held {
  JobStatus status;
  int attempt;
  std::string_view worker;
  long long heartbeat_ms;  // 0 when none, as Millis
};

bool SupersedesHeld(const Execution& incoming, const Held& current) {
  int in_rank = Rank(incoming.job_status);
  int cur_rank = Rank(current.status);
  if (cur_rank == 2) return false;  // the first terminal state is final
  if (incoming.takes_over && current.status == JobStatus::kPending) {
    const LeaseTakeover& lost = *incoming.takes_over;
    if (current.worker != lost.worker || current.attempt != lost.attempt ||
        current.heartbeat_ms != Millis(lost.heartbeat_time)) {
      return false;  // the holder renewed its claim (or someone else took over) first
    }
  }
  if (in_rank != cur_rank) return in_rank > cur_rank;
  if (in_rank == 0) return false;  // a second TRIGGERED record adds nothing
  if (incoming.attempt != current.attempt) return incoming.attempt > current.attempt;
  if (incoming.worker != current.worker) return false;  // a competing claim for this attempt
  return Millis(incoming.heartbeat_time) >= current.heartbeat_ms;
}

int64_t NowMs(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.Now().time_since_epoch())
      .count();
}

// The latest of an execution's own times; when it has none, when the view took it in.
int64_t LastActivityMs(const ExecutionSlot& slot) {
  int64_t last = std::max({slot.create_ms, slot.start_ms, slot.heartbeat_ms, slot.completion_ms});
  return last == kNoTime ? slot.seen_ms : last;
}

}  // namespace

bool Supersedes(const Execution& incoming, const Execution& current) {
  return SupersedesHeld(incoming, {current.job_status, current.attempt, current.worker,
                                   Millis(current.heartbeat_time)});
}

bool ExecutionStore::Apply(const Execution& record) {
  if (record.id.empty()) return false;
  std::optional<Execution> changed;
  {
    std::unique_lock lock(mutex_);
    const int64_t seen_ms = NowMs(clock_);
    uint32_t s = slots_.Find(record.id);
    if (s == ExecutionSlots::kNone) {
      s = slots_.Add(record, seen_ms);
    } else {
      const ExecutionSlot& held = slots_[s];
      Held current{static_cast<JobStatus>(held.status), held.attempt, slots_.Text(held.worker),
                   held.heartbeat_ms == kNoTime ? 0 : held.heartbeat_ms};
      if (!SupersedesHeld(record, current)) return false;
      slots_.Replace(s, record, seen_ms);
    }
    // A job token lives with the attempt that carries it.
    auto token = token_of_.find(s);
    if (token != token_of_.end() && token->second != record.job_token_sha256) ForgetJobToken(s);
    if (!record.job_token_sha256.empty() && !token_of_.count(s)) {
      job_tokens_[record.job_token_sha256] = s;
      token_of_[s] = record.job_token_sha256;
    }
    if (!listeners_.empty()) changed = slots_.Materialize(s);
  }
  if (changed) {
    for (const auto& listener : listeners_) listener(*changed);
  }
  for (const auto& listener : id_listeners_) listener(record.id);
  return true;
}

void ExecutionStore::ForgetJobToken(uint32_t slot) {
  auto token = token_of_.find(slot);
  if (token == token_of_.end()) return;
  auto it = job_tokens_.find(token->second);
  if (it != job_tokens_.end() && it->second == slot) job_tokens_.erase(it);
  token_of_.erase(token);
}

std::optional<Execution> ExecutionStore::RunningWithJobToken(const std::string& sha256) const {
  std::shared_lock lock(mutex_);
  auto it = job_tokens_.find(sha256);
  if (it == job_tokens_.end()) return std::nullopt;
  if (static_cast<JobStatus>(slots_[it->second].status) != JobStatus::kPending) {
    return std::nullopt;
  }
  Execution e = slots_.Materialize(it->second);
  if (e.job_token_sha256 != sha256) return std::nullopt;
  return e;
}

std::optional<Execution> ExecutionStore::Get(const std::string& id) const {
  std::shared_lock lock(mutex_);
  uint32_t s = slots_.Find(id);
  if (s == ExecutionSlots::kNone) return std::nullopt;
  return slots_.Materialize(s);
}

std::optional<ExecutionState> ExecutionStore::State(const std::string& id) const {
  std::shared_lock lock(mutex_);
  uint32_t s = slots_.Find(id);
  if (s == ExecutionSlots::kNone) return std::nullopt;
  return slots_.State(s);
}

size_t ExecutionStore::size() const {
  std::shared_lock lock(mutex_);
  return slots_.size();
}

size_t ExecutionStore::InternedStrings() const {
  std::shared_lock lock(mutex_);
  return slots_.pooled_strings();
}

size_t ExecutionStore::MemoryBytes() const {
  std::shared_lock lock(mutex_);
  return slots_.MemoryBytes();
}

void ExecutionStore::OnChange(std::function<void(const Execution&)> listener) {
  std::unique_lock lock(mutex_);
  listeners_.push_back(std::move(listener));
}

void ExecutionStore::OnChangedId(std::function<void(const std::string& id)> listener) {
  std::unique_lock lock(mutex_);
  id_listeners_.push_back(std::move(listener));
}

ListPage ExecutionStore::List(const ListQuery& query) const {
  ListPage page;
  std::shared_lock lock(mutex_);
  std::optional<ExecutionSlots::OrderKey> after;
  if (!query.page_token.empty()) after = DecodePageToken(query.page_token);
  size_t limit = query.page_size == 0 ? 1 : query.page_size;
  slots_.NewestFirst(after, [&](uint32_t s) {
    const ExecutionSlot& slot = slots_[s];
    const std::string& job_name = slots_.Text(slot.job);
    if (!query.job_name.empty() && job_name != query.job_name) return true;
    if (query.status && static_cast<JobStatus>(slot.status) != *query.status) return true;
    if (!query.client.empty() && slots_.Text(slot.client) != query.client) return true;
    if (!query.source.empty()) {
      // Only an id that is not a UUID is kept as text; a UUID is never all digits.
      std::string_view id = slot.id_text != 0 ? std::string_view(slots_.Text(slot.id_text))
                                              : std::string_view("uuid");
      if (ExecutionSource(id, slots_.Text(slot.client)) != query.source) return true;
    }
    if (query.visible && !query.visible(job_name)) return true;
    if (page.executions.size() == limit) {
      const Execution& last = page.executions.back();
      page.next_page_token = EncodePageToken(Millis(last.create_time), last.id);
      return false;
    }
    page.executions.push_back(slots_.Materialize(s));
    return true;
  });
  return page;
}

Duration ExecutionStore::SweepInterval() const {
  return std::min<Duration>(retention_ / 10, std::chrono::minutes(1));
}

size_t ExecutionStore::SweepSlots(uint32_t from, uint32_t to, int64_t cutoff_ms) {
  size_t dropped = 0;
  for (uint32_t s = from; s < to; ++s) {
    const ExecutionSlot& slot = slots_[s];
    if (!slot.live || LastActivityMs(slot) >= cutoff_ms) continue;
    ForgetJobToken(s);
    slots_.Remove(s);
    ++dropped;
  }
  return dropped;
}

size_t ExecutionStore::Sweep() {
  const TimePoint now = clock_.Now();
  if (!in_pass_) {
    if (next_pass_ && now < *next_pass_) return 0;
    in_pass_ = true;
    cursor_ = 0;
  }
  const int64_t cutoff_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>((now - retention_).time_since_epoch())
          .count();
  std::unique_lock lock(mutex_);
  uint32_t to = std::min<uint32_t>(slots_.end(), cursor_ + kSweepStep);
  size_t dropped = SweepSlots(cursor_, to, cutoff_ms);
  cursor_ = to;
  if (cursor_ >= slots_.end()) {
    in_pass_ = false;
    next_pass_ = now + SweepInterval();
  }
  return dropped;
}

size_t ExecutionStore::EvictExpired() {
  const TimePoint now = clock_.Now();
  const int64_t cutoff_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>((now - retention_).time_since_epoch())
          .count();
  std::unique_lock lock(mutex_);
  return SweepSlots(0, slots_.end(), cutoff_ms);
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
