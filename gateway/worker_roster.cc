#include "gateway/worker_roster.h"

#include <algorithm>

namespace sluice {

WorkerRoster::WorkerRoster(ExecutionStore& store) : state_(std::make_shared<State>()) {
  std::weak_ptr<State> weak = state_;
  ExecutionStore* view = &store;
  store.OnChangedId([weak, view](const std::string& id) {
    std::shared_ptr<State> state = weak.lock();
    if (!state) return;
    state->Apply(id, view->State(id));
  });
}

void WorkerRoster::State::Release(const std::string& id) {
  auto held = holder.find(id);
  if (held == holder.end()) return;
  auto w = workers.find(held->second);
  if (w != workers.end()) std::erase(w->second.running, id);
  holder.erase(held);
}

void WorkerRoster::State::Apply(const std::string& id, const std::optional<ExecutionState>& s) {
  std::lock_guard<std::mutex> lock(mutex);
  if (!s || s->worker.empty()) {  // gone from the view, or not claimed (yet)
    Release(id);
    return;
  }
  TimePoint seen{};
  for (const auto& t : {s->heartbeat_time, s->start_time, s->completion_time}) {
    if (t) seen = std::max(seen, *t);
  }
  auto held = holder.find(id);
  if (held != holder.end() && held->second != s->worker) Release(id);  // another attempt's
  Worker& w = workers[s->worker];
  w.name = s->worker;
  w.last_seen = std::max(w.last_seen, seen);
  if (s->job_status == JobStatus::kPending) {
    if (holder.emplace(id, s->worker).second) {
      w.running.insert(std::upper_bound(w.running.begin(), w.running.end(), id), id);
    }
  } else {
    Release(id);
  }
  if (workers.size() > kMaxIdleWorkers + holder.size()) ForgetIdle();
}

void WorkerRoster::State::ForgetIdle() {
  std::vector<std::pair<TimePoint, std::string>> idle;
  for (const auto& [name, w] : workers) {
    if (w.running.empty()) idle.emplace_back(w.last_seen, name);
  }
  if (idle.size() <= kMaxIdleWorkers) return;
  std::sort(idle.begin(), idle.end());
  for (size_t i = 0; i < idle.size() - kMaxIdleWorkers; ++i) workers.erase(idle[i].second);
}

std::vector<WorkerRoster::Worker> WorkerRoster::SeenSince(TimePoint since) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<Worker> seen;
  for (const auto& [name, w] : state_->workers) {
    if (!w.running.empty() || w.last_seen >= since) seen.push_back(w);
  }
  return seen;
}

}  // namespace sluice
