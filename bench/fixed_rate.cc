// POST /v1/executions at a fixed rate over keep-alive connections; prints latency percentiles.
//
//   fixed_rate HOST PORT TOKEN JOB RATE DURATION [CONNECTIONS=16]
//
// The same open-loop measurement as bench/fixed_rate.py, without Python's interpreter lock: on a
// busy 2-core machine the Python driver sent 1000/s up to 14 ms late (its p99 send lag), which
// lands in the figures it reports. Request i is due at t0 + i/RATE; a pool of threads, each with
// one kept-alive connection, takes the next due request, sleeps until its due time, sends it and
// reads the answer; its latency counts from the due time, not from the send, so a stalled server
// shows up as the queue it caused. Prints one JSON object with the keys fixed_rate.py prints
// (driver_lag_p99_ms: how late the driver itself sent, to judge whether it kept up). Built by
// bench/ceilings.sh with g++ outside the project's build: a tool, not a target.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void SleepUntil(double t) {
  timespec ts;
  ts.tv_sec = static_cast<time_t>(t);
  ts.tv_nsec = static_cast<long>((t - ts.tv_sec) * 1e9);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
}

int Connect(const char* host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{15, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

struct Answer {
  int status = 0;  // 0: the connection failed
  std::string body;
};

// Sends request on fd and reads one answer (Content-Length framed). Closes fd on failure.
Answer Exchange(int& fd, const std::string& request) {
  Answer a;
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      close(fd);
      fd = -1;
      return a;
    }
    sent += static_cast<size_t>(n);
  }
  std::string in;
  char buf[8192];
  size_t head_end = std::string::npos, want = 0;
  bool closes = false;
  while (true) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      close(fd);
      fd = -1;
      return a;
    }
    in.append(buf, static_cast<size_t>(n));
    if (head_end == std::string::npos) {
      head_end = in.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      std::string head = in.substr(0, head_end);
      for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto cl = head.find("content-length:");
      want = cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 15, nullptr, 10);
      a.status = std::atoi(in.c_str() + 9);
      closes = head.find("connection: close") != std::string::npos;
    }
    if (in.size() >= head_end + 4 + want) {
      a.body = in.substr(head_end + 4, want);
      if (closes) {
        close(fd);
        fd = -1;
      }
      return a;
    }
  }
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::max(1.0, std::ceil(sorted.size() * p / 100.0)));
  return sorted[std::min(sorted.size(), rank) - 1];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: fixed_rate HOST PORT TOKEN JOB RATE DURATION [CONNECTIONS]\n");
    return 2;
  }
  const char* host = argv[1];
  const int port = std::atoi(argv[2]);
  const std::string token = argv[3], job = argv[4];
  const double rate = std::atof(argv[5]), duration = std::atof(argv[6]);
  const int connections = argc > 7 ? std::atoi(argv[7]) : 16;
  const long total = static_cast<long>(rate * duration);
  const std::string body = "{\"job_name\": \"" + job + "\", \"job_execution_type\": \"1\"}";
  const std::string request = "POST /v1/executions HTTP/1.1\r\nHost: " + std::string(host) +
                              "\r\nAuthorization: Bearer " + token +
                              "\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;

  std::vector<int> fds;
  for (int i = 0; i < connections; ++i) {
    int fd = Connect(host, port);
    if (fd < 0) {
      std::fprintf(stderr, "fixed_rate: cannot connect to %s:%d\n", host, port);
      return 1;
    }
    fds.push_back(fd);
  }
  std::atomic<long> next{0};
  std::mutex mu;
  std::vector<double> latencies, lags;
  std::map<std::string, long> statuses;
  std::string some_id;
  const double t0 = Now() + 0.05;
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      int fd = fds[c];
      std::vector<double> my_latencies, my_lags;
      std::map<std::string, long> my_statuses;
      std::string my_id;
      for (long i; (i = next.fetch_add(1)) < total;) {
        const double due = t0 + i / rate;
        SleepUntil(due);
        const double sent = Now();
        if (fd < 0) fd = Connect(host, port);
        Answer a;
        if (fd >= 0) a = Exchange(fd, request);
        const double done = Now();
        my_latencies.push_back(done - due);
        my_lags.push_back(sent - due);
        my_statuses[a.status == 0 ? "ConnectionError" : std::to_string(a.status)]++;
        if (a.status == 200 && my_id.empty()) {
          auto at = a.body.find("\"id\":\"");
          if (at != std::string::npos) my_id = a.body.substr(at + 6, a.body.find('"', at + 6) - at - 6);
        }
      }
      if (fd >= 0) close(fd);
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), my_latencies.begin(), my_latencies.end());
      lags.insert(lags.end(), my_lags.begin(), my_lags.end());
      for (auto& [k, v] : my_statuses) statuses[k] += v;
      if (some_id.empty()) some_id = my_id;
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = Now() - t0;
  std::sort(latencies.begin(), latencies.end());
  std::sort(lags.begin(), lags.end());
  auto ms = [](double v) { return std::round(v * 100000) / 100; };
  std::string refused;
  for (auto& [k, v] : statuses) {
    if (k == "200") continue;
    refused += (refused.empty() ? "\"" : ", \"") + k + "\": " + std::to_string(v);
  }
  std::printf(
      "{\"target_rate\": %.1f, \"sent\": %zu, \"accepted\": %ld, \"refused\": {%s}, "
      "\"achieved_rate\": %.1f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"p999_ms\": %.2f, "
      "\"max_ms\": %.2f, \"driver_lag_p99_ms\": %.2f, \"id\": \"%s\"}\n",
      rate, latencies.size(), statuses.count("200") ? statuses["200"] : 0L, refused.c_str(),
      latencies.size() / elapsed, ms(Percentile(latencies, 50)), ms(Percentile(latencies, 99)),
      ms(Percentile(latencies, 99.9)), latencies.empty() ? 0.0 : ms(latencies.back()),
      ms(Percentile(lags, 99)), some_id.c_str());
  return 0;
}
