#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::testing {

// One HTTP answer as it came over the wire.
struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A TCP connection to 127.0.0.1 that writes exactly the bytes a test gives it: pipelined
// requests, broken framing, huge heads. Reads parse answers by Content-Length.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval timeout{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Writes all of `bytes`; false once the server has closed or reset the connection.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until `count` whole answers are in (a 100 Continue counts as one), the server closes,
  // or `timeout` passes.
  std::vector<RawResponse> Read(size_t count, std::chrono::milliseconds timeout) {
    std::vector<RawResponse> out;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < count) {
      RawResponse r;
      if (TakeResponse(&r)) {
        out.push_back(std::move(r));
        continue;
      }
      if (!Fill(deadline)) break;
    }
    return out;
  }

  // Whether the server closes the connection within `timeout` (what it still sends is read).
  bool Closed(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (Fill(deadline)) {
    }
    return closed_;
  }

  // Reads and drops whatever has arrived, without waiting.
  void Drain() {
    char chunk[65536];
    while (recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
    }
  }

  // What arrived and was not parsed as an answer.
  const std::string& unparsed() const { return buffer_; }

 private:
  // Reads what is there (waiting until `deadline`); false on close, error or time-out.
  bool Fill(std::chrono::steady_clock::time_point deadline) {
    if (closed_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  bool TakeResponse(RawResponse* r) {
    size_t end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string_view head(buffer_.data(), end);
    size_t line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return false;
    r->status = std::stoi(std::string(status_line.substr(9, 3)));
    size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t next = head.find("\r\n", pos);
      if (next == std::string_view::npos) next = head.size();
      std::string_view line = head.substr(pos, next - pos);
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string name(line.substr(0, colon));
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        r->headers[name] = std::string(value);
      }
      pos = next + 2;
    }
    size_t length = 0;
    if (auto it = r->headers.find("content-length"); it != r->headers.end()) {
      length = std::stoul(it->second);
    }
    if (buffer_.size() < end + 4 + length) return false;
    r->body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    return true;
  }

  int fd_ = -1;
  std::string buffer_;
  bool closed_ = false;
};

}  // namespace sluice::testing
