#include "worker/loop_wake.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice {

StatusOr<std::shared_ptr<LoopWake>> LoopWake::Create() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Internal(std::string("cannot create the worker's wake-up pipe: ") +
                    std::strerror(errno));
  }
  return std::shared_ptr<LoopWake>(new LoopWake(fds[0], fds[1]));
}

LoopWake::~LoopWake() {
  ::close(read_fd_);
  ::close(write_fd_);
}

void LoopWake::Wake() {
  if (pending_.exchange(true)) return;  // a byte is on its way already
  char byte = 1;
  // EAGAIN: the pipe is full of wake-ups, which is as good as this one.
  [[maybe_unused]] ssize_t n = ::write(write_fd_, &byte, 1);
}

void LoopWake::Wait(const std::vector<int>& fds, std::chrono::milliseconds timeout) {
  std::vector<pollfd> polled;
  polled.reserve(fds.size() + 1);
  polled.push_back({read_fd_, POLLIN, 0});
  for (int fd : fds) polled.push_back({fd, POLLIN, 0});
  int ms = static_cast<int>(std::max<long long>(0, timeout.count()));
  while (::poll(polled.data(), polled.size(), ms) < 0 && errno == EINTR) {
  }
  // Cleared before the pipe is emptied: a Wake() from now on writes again, so none is lost.
  pending_.store(false);
  char buffer[256];
  while (::read(read_fd_, buffer, sizeof buffer) > 0) {
  }
}

void LoopWake::Watch(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  watched_.insert(id);
}

void LoopWake::Unwatch(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  watched_.erase(id);
}

void LoopWake::WakeIfWatched(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!watched_.count(id)) return;
  }
  Wake();
}

}  // namespace sluice
