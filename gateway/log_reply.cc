#include "gateway/log_reply.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>

namespace sluice {

namespace {

std::optional<uint64_t> ParseNumber(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string ReadAt(int fd, uint64_t first, size_t length) {
  std::string out(length, '\0');
  size_t got = 0;
  while (got < length) {
    ssize_t n = pread(fd, out.data() + got, length - got, static_cast<off_t>(first + got));
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

}  // namespace

std::optional<ByteRange> ParseRange(std::string_view header, uint64_t size, bool* unsatisfiable) {
  *unsatisfiable = false;
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit)) return std::nullopt;
  std::string_view spec = header.substr(kUnit.size());
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view from = spec.substr(0, dash);
  std::string_view to = spec.substr(dash + 1);
  if (from.empty()) {  // the last K bytes
    std::optional<uint64_t> k = ParseNumber(to);
    if (!k) return std::nullopt;
    if (*k == 0 || size == 0) {
      *unsatisfiable = true;
      return std::nullopt;
    }
    uint64_t take = std::min(*k, size);
    return ByteRange{size - take, size - 1};
  }
  std::optional<uint64_t> first = ParseNumber(from);
  std::optional<uint64_t> last = to.empty() ? std::optional<uint64_t>(UINT64_MAX) : ParseNumber(to);
  if (!first || !last || *last < *first) return std::nullopt;
  if (*first >= size) {
    *unsatisfiable = true;
    return std::nullopt;
  }
  return ByteRange{*first, std::min(*last, size - 1)};
}

std::optional<ApiReply> LogFileReply(const std::string& path, std::string_view range_header,
                                     std::optional<uint64_t> offset, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return std::nullopt;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  ApiReply r;
  r.content_type = "text/plain; charset=utf-8";
  r.headers.emplace_back("Accept-Ranges", "bytes");
  std::optional<ByteRange> range;
  bool unsatisfiable = false;
  if (!offset) range = ParseRange(range_header, size, &unsatisfiable);
  if (unsatisfiable) {
    close(fd);
    r.status = 416;
    r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    return r;
  }
  if (range) {
    uint64_t length = std::min<uint64_t>(range->last - range->first + 1, max_bytes);
    r.status = 206;
    r.body = ReadAt(fd, range->first, static_cast<size_t>(length));
    if (r.body.empty()) {  // the file shrank under us
      close(fd);
      r.status = 416;
      r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      return r;
    }
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                                std::to_string(range->first + r.body.size() - 1) +
                                                "/" + std::to_string(size));
  } else {
    uint64_t first = offset ? std::min(*offset, size) : 0;
    if (size - first > max_bytes) first = size - max_bytes;
    r.body = ReadAt(fd, first, static_cast<size_t>(size - first));
  }
  close(fd);
  return r;
}

}  // namespace sluice
