#include "worker/job_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "common/log.h"

namespace sluice {

// An Aho-Corasick automaton over the secret values. Each state is the longest suffix of the
// stream read so far that is a prefix of some secret; `depth` is its length and `match` the
// length of the longest secret ending there (0 for none). Transitions are sparse (a sorted list
// per state) except at the root, so memory stays proportional to the total length of the secrets.
struct SecretMasker::Automaton {
  struct State {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t fail = 0;
    uint32_t depth = 0;
    uint32_t match = 0;
  };
  std::vector<State> states{1};
  std::array<int32_t, 256> root_next{};  // 0: stay at the root

  explicit Automaton(const std::vector<std::string>& secrets) {
    std::set<std::string> unique;
    for (const std::string& s : secrets) {
      if (s.size() >= kMinMaskedBytes) unique.insert(s);
    }
    for (const std::string& secret : unique) Insert(secret);
    for (int c = 0; c < 256; ++c) root_next[c] = Child(0, static_cast<uint8_t>(c));
    LinkFailures();
  }

  bool empty() const { return states.size() == 1; }

  // The state reached from `state` by one byte.
  int32_t Step(int32_t state, uint8_t byte) const {
    while (state != 0) {
      int32_t child = Child(state, byte);
      if (child > 0) return child;
      state = states[state].fail;
    }
    return root_next[byte];
  }

 private:
  int32_t Child(int32_t state, uint8_t byte) const {
    const auto& next = states[state].next;
    auto it = std::lower_bound(next.begin(), next.end(), byte,
                               [](const auto& edge, uint8_t b) { return edge.first < b; });
    return it != next.end() && it->first == byte ? it->second : 0;
  }

  void Insert(const std::string& secret) {
    int32_t state = 0;
    for (char ch : secret) {
      const auto byte = static_cast<uint8_t>(ch);
      int32_t child = Child(state, byte);
      if (child == 0) {
        child = static_cast<int32_t>(states.size());
        State fresh;
        fresh.depth = states[state].depth + 1;
        states.push_back(std::move(fresh));
        auto& next = states[state].next;
        auto at = std::lower_bound(next.begin(), next.end(), byte,
                                   [](const auto& edge, uint8_t b) { return edge.first < b; });
        next.insert(at, {byte, child});
      }
      state = child;
    }
    states[state].match = states[state].depth;
  }

  // Breadth first, so that a state's failure target (shallower) is complete before the state.
  void LinkFailures() {
    std::vector<int32_t> queue;
    for (const auto& [byte, child] : states[0].next) queue.push_back(child);
    for (size_t i = 0; i < queue.size(); ++i) {
      const int32_t state = queue[i];
      for (const auto& [byte, child] : states[state].next) {
        const int32_t fail = Step(states[state].fail, byte);
        states[child].fail = fail;
        states[child].match = std::max(states[child].match, states[fail].match);
        queue.push_back(child);
      }
    }
  }
};

SecretMasker::SecretMasker(const std::vector<std::string>& secrets)
    : automaton_(std::make_shared<const Automaton>(secrets)) {}
SecretMasker::SecretMasker(std::shared_ptr<const Automaton> automaton)
    : automaton_(std::move(automaton)) {}
SecretMasker::~SecretMasker() = default;
SecretMasker::SecretMasker(SecretMasker&&) noexcept = default;
SecretMasker& SecretMasker::operator=(SecretMasker&&) noexcept = default;

bool SecretMasker::empty() const { return automaton_->empty(); }

void SecretMasker::Write(std::string_view bytes, std::string* out) {
  if (automaton_->empty()) {
    out->append(bytes);
    return;
  }
  const Automaton& automaton = *automaton_;
  for (char ch : bytes) {
    state_ = automaton.Step(state_, static_cast<uint8_t>(ch));
    ++position_;
    if (uint32_t match = automaton.states[state_].match) Cover(position_ - match, position_);
  }
  pending_.append(bytes);
  // No secret can start before the bytes the current state stands for.
  Release(position_ - automaton.states[state_].depth, out);
}

void SecretMasker::Flush(std::string* out) {
  Release(position_, out);
  state_ = 0;
  released_masked_ = false;
}

std::string SecretMasker::MaskWhole(std::string_view text) const {
  SecretMasker stream(automaton_);
  std::string out;
  stream.Write(text, &out);
  stream.Flush(&out);
  return out;
}

void SecretMasker::Cover(uint64_t start, uint64_t end) {
  if (released_masked_ && start < released_) {
    // It overlaps the kMaskedText already released: that one now stands for it too.
    released_ = std::max(released_, end);
    regions_.clear();
    return;
  }
  while (!regions_.empty() && regions_.back().end > start) {
    start = std::min(start, regions_.back().start);
    regions_.pop_back();
  }
  regions_.push_back({start, end});
}

void SecretMasker::Release(uint64_t certain, std::string* out) {
  const uint64_t pending_start = position_ - pending_.size();
  auto raw = [&](uint64_t from, uint64_t to) {
    out->append(pending_, from - pending_start, to - from);
  };
  while (!regions_.empty() && regions_.front().start <= certain) {
    // No later match can start before `certain`, so this region can only grow at its end,
    // which Cover() folds into the kMaskedText released now.
    const Region region = regions_.front();
    regions_.pop_front();
    if (region.start > released_) raw(released_, region.start);
    out->append(kMaskedText);
    released_ = region.end;
    released_masked_ = true;
  }
  if (released_ < certain) {
    raw(released_, certain);
    released_ = certain;
    released_masked_ = false;
  }
  pending_.erase(0, std::min<uint64_t>(released_ - pending_start, pending_.size()));
}

StatusOr<std::unique_ptr<JobLog>> JobLog::Open(const std::string& path, uint64_t max_bytes,
                                               const std::vector<std::string>& secrets) {
  const int fd = ::open(path.c_str(),
                        O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) return Internal("cannot open the job's log " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return FailedPrecondition("the job's log " + path + " is not a regular file");
  }
  // A log left by an earlier attempt may end in the middle of a line (its worker died).
  bool at_line_start = true;
  if (st.st_size > 0) {
    const int reader = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    char last = '\n';
    if (reader >= 0) {
      if (::pread(reader, &last, 1, st.st_size - 1) != 1) last = '\n';
      ::close(reader);
    }
    at_line_start = last == '\n';
  }
  return std::unique_ptr<JobLog>(new JobLog(fd, max_bytes, secrets, at_line_start));
}

JobLog::JobLog(int fd, uint64_t max_bytes, const std::vector<std::string>& secrets,
               bool at_line_start)
    : fd_(fd), max_bytes_(max_bytes), masker_(secrets), at_line_start_(at_line_start) {}

JobLog::~JobLog() {
  Flush();
  ::close(fd_);
}

void JobLog::Output(std::string_view bytes) {
  if (capped_) return;
  scratch_.clear();
  masker_.Write(bytes, &scratch_);
  WriteOutput(scratch_);
}

void JobLog::Flush() {
  if (capped_) return;
  scratch_.clear();
  masker_.Flush(&scratch_);
  WriteOutput(scratch_);
}

void JobLog::Note(std::string_view line) {
  std::string record = at_line_start_ ? "[sluice] " : "\n[sluice] ";
  record += EscapeLogValue(masker_.MaskWhole(line), kMaxNoteBytes);
  record += '\n';
  Append(record);
}

void JobLog::WriteOutput(std::string_view masked) {
  const uint64_t room = max_bytes_ - output_bytes_;
  if (masked.size() <= room) {
    Append(masked);
    output_bytes_ += masked.size();
    return;
  }
  // A kMaskedText the cap would cut is left out whole.
  size_t cut = room;
  for (size_t i = cut >= kMaskedText.size() ? cut - kMaskedText.size() + 1 : 0; i < cut; ++i) {
    if (masked.substr(i, kMaskedText.size()) == kMaskedText) {
      cut = i;
      break;
    }
  }
  Append(masked.substr(0, cut));
  output_bytes_ += cut;
  capped_ = true;
  Note("the log reached its limit of " + std::to_string(max_bytes_) +
       " bytes (worker.max_log_bytes); further output is dropped");
}

void JobLog::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (write_status_.ok()) {
        write_status_ = Internal(std::string("cannot write the job's log: ") +
                                 (n < 0 ? std::strerror(errno) : "no progress"));
      }
      return;
    }
    at_line_start_ = bytes[static_cast<size_t>(n) - 1] == '\n';
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace sluice
