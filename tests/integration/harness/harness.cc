#include "tests/integration/harness/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/crypto.h"
#include "common/execution_id.h"

extern char** environ;

namespace sluice::testing {
namespace fs = std::filesystem;

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

rapidjson::Document HttpResponse::Json() const {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  return doc;
}

namespace {

size_t WriteBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t WriteHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

}  // namespace

HttpClient::HttpClient() : curl_(curl_easy_init()) {}
HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResponse HttpClient::Request(const std::string& method, const std::string& url,
                                 const std::vector<std::string>& headers, const std::string& body,
                                 bool send_body) {
  CURL* c = static_cast<CURL*>(curl_);
  HttpResponse r;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
  if (send_body || !body.empty()) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    // The handle is reused: without this, a body-less DELETE after a POST announces the POST's
    // body size and then sends nothing.
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(c, CURLOPT_HTTPGET, method == "GET" ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  struct curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(list);
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  long connects = 0;
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
  connects_ += connects;
  return r;
}

HttpResponse HttpClient::Get(const std::string& url, const std::string& token) {
  std::vector<std::string> h;
  if (!token.empty()) h.push_back("Authorization: Bearer " + token);
  return Request("GET", url, h);
}

HttpResponse HttpClient::Post(const std::string& url, const std::string& token,
                              const std::string& body, const std::vector<std::string>& extra) {
  std::vector<std::string> h = extra;
  if (!token.empty()) h.push_back("Authorization: Bearer " + token);
  return Request("POST", url, h, body, true);
}

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "sluice-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) fs::remove_all(path_, ec);
}

SluiceProcess::SluiceProcess(std::string role, std::string config_path, std::string work_dir,
                             std::vector<std::string> extra_args)
    : role_(std::move(role)),
      config_path_(std::move(config_path)),
      work_dir_(std::move(work_dir)),
      extra_args_(std::move(extra_args)) {
  static int counter = 0;
  std::string n = std::to_string(++counter);
  log_path_ = work_dir_ + "/" + role_ + "-" + n + ".log";
  port_file_ = work_dir_ + "/" + role_ + "-" + n + ".port";
}

SluiceProcess::~SluiceProcess() {
  if (pid_ > 0 && exit_status_ < 0) Kill();
}

bool SluiceProcess::Start(std::chrono::milliseconds timeout) {
  const char* binary = std::getenv("SLUICE_BINARY");
  if (binary == nullptr) {
    ADD_FAILURE() << "SLUICE_BINARY is not set (ctest sets it)";
    return false;
  }
  std::vector<std::string> args = {binary, role_, "--config", config_path_};
  if (role_ == "gateway") {
    args.insert(args.end(), {"--listen", "127.0.0.1:0", "--port-file", port_file_});
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  int rc = posix_spawn(&pid_, binary, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << binary << ": " << strerror(rc);
    return false;
  }
  if (role_ == "dev") {
    bool up = WaitFor(
        [&] { return Log().find("Sluice dev is running") != std::string::npos || !Running(); },
        timeout);
    return up && Running();
  }
  if (role_ != "gateway") {
    bool joined = WaitFor(
        [&] { return Log().find("joined group") != std::string::npos || !Running(); }, timeout);
    return joined && Running();
  }
  bool up = WaitFor([&] { return fs::exists(port_file_) || !Running(); }, timeout);
  if (!up || !Running()) {
    ADD_FAILURE() << "gateway did not start; its log:\n" << Log();
    return false;
  }
  std::ifstream(port_file_) >> port_;
  return port_ != 0;
}

bool SluiceProcess::Running() {
  if (pid_ <= 0 || exit_status_ >= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }
  return true;
}

void SluiceProcess::Kill() {
  if (!Running()) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = 128 + SIGKILL;
}

int SluiceProcess::Terminate(std::chrono::milliseconds timeout) {
  if (!Running()) return exit_status_;
  kill(pid_, SIGTERM);
  if (!WaitFor([&] { return !Running(); }, timeout)) {
    ADD_FAILURE() << role_ << " did not stop within the timeout after SIGTERM";
    Kill();
  }
  return exit_status_;
}

std::string SluiceProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

namespace {

std::string SourceDir() {
  const char* dir = std::getenv("SLUICE_SOURCE_DIR");
  return dir ? dir : ".";
}

// A base port with `count` free consecutive ports above it (best effort: ports are probed by
// binding them, then released).
int FreePortBase(int count) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int base = 20000 + static_cast<int>(static_cast<unsigned char>(RandomBytes(1)[0])) * 150 +
               (attempt * 7) % 100;
    bool all_free = true;
    for (int p = base; p < base + count && all_free; ++p) {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(p));
      all_free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      close(fd);
    }
    if (all_free) return base;
  }
  return 0;
}

}  // namespace

KafkaCluster::KafkaCluster(int brokers) : brokers_(brokers), owned_(true) {
  int base = FreePortBase(2 * brokers);
  dir_ = (fs::temp_directory_path() / ("sluice-kafka-" + std::to_string(base))).string();
  std::string out;
  if (base == 0 ||
      !Script("start --brokers " + std::to_string(brokers) + " --port " + std::to_string(base),
              &out)) {
    ADD_FAILURE() << "cannot start a " << brokers << "-broker Kafka cluster:\n" << out << Logs();
    return;
  }
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("127.0.0.1:", 0) == 0) bootstrap_ = line;
  }
}

KafkaCluster::KafkaCluster(std::string bootstrap, std::string dir)
    : dir_(std::move(dir)), bootstrap_(std::move(bootstrap)), owned_(false) {
  brokers_ = 1 + static_cast<int>(std::count(bootstrap_.begin(), bootstrap_.end(), ','));
}

KafkaCluster::~KafkaCluster() {
  if (owned_ && !dir_.empty()) {
    Script("stop");
    if (!::testing::Test::HasFailure()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
}

bool KafkaCluster::Script(const std::string& args, std::string* out) const {
  std::string cmd = SourceDir() + "/scripts/kafka.sh " + args + " --dir " + dir_ + " 2>&1";
  std::string text;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return false;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = pclose(p);
  if (out) *out = text;
  return rc == 0;
}

bool KafkaCluster::Kill(int broker) { return Script("kill " + std::to_string(broker)); }
bool KafkaCluster::Restart(int broker) { return Script("restart " + std::to_string(broker)); }

std::string KafkaCluster::Logs() const {
  std::string all;
  for (int i = 1; i <= brokers_; ++i) {
    std::ifstream in(dir_ + "/broker-" + std::to_string(i) + ".log");
    std::stringstream s;
    s << in.rdbuf();
    std::string text = s.str();
    if (text.size() > 4000) text = text.substr(text.size() - 4000);
    all += "--- broker " + std::to_string(i) + " (" + dir_ + ") ---\n" + text;
  }
  return all;
}

Deployment::Deployment(const std::string& jobs_yaml, const std::string& worker_yaml,
                       const std::string& gateway_yaml, const std::string& clients_yaml,
                       KafkaCluster* cluster, const std::string& projects_yaml,
                       const std::string& webhooks_yaml)
    : cluster_(cluster) {
  const char* tier = std::getenv("SLUICE_TEST_KAFKA_BROKERS");
  if (cluster_ == nullptr && tier != nullptr && *tier) {
    const char* tier_dir = std::getenv("SLUICE_TEST_KAFKA_DIR");
    tier_cluster_ = std::make_unique<KafkaCluster>(tier, tier_dir ? tier_dir : "");
    cluster_ = tier_cluster_.get();
  }
  kafka_.partitions = 4;
  if (cluster_ != nullptr) {
    // Real Kafka: topics of this deployment's own, created by sluice at start.
    kafka_.brokers = cluster_->bootstrap();
    kafka_.topic_prefix = "test-" + HexEncode(RandomBytes(4)) + ".";
    kafka_.replication_factor = std::min(cluster_->brokers(), 3);
  } else {
    auto broker = EmbeddedBroker::Start();
    EXPECT_TRUE(broker.ok()) << broker.status().ToString();
    broker_ = std::move(*broker);
    EXPECT_TRUE(broker_->CreateTopics(kafka_).ok());
    kafka_.brokers = broker_->bootstrap();
  }

  config_path_ = dir_.path() + "/sluice.yaml";
  std::ofstream out(config_path_);
  out << "kafka:\n  brokers: \"" << kafka_.brokers << "\"\n  partitions: " << kafka_.partitions
      << "\n  replication_factor: " << kafka_.replication_factor << "\n  topic_prefix: \""
      << kafka_.topic_prefix << "\"\n";
  out << "gateway:\n  public_url: \"http://gateway.test\"\n" << gateway_yaml << "\n";
  // The deployment's lease and heartbeat, unless worker_yaml names its own.
  const bool own_lease = worker_yaml.find("lease:") != std::string::npos;
  // Each worker's metrics on a free port of its own (the default 9464 would be shared by every
  // worker of every test), unless worker_yaml names it.
  const bool own_metrics = worker_yaml.find("metrics_listen:") != std::string::npos;
  out << "worker:\n  workspace: \"" << workspace() << "\"\n  artifacts: \"" << artifacts() << "\"\n"
      << (own_lease ? "" : "  heartbeat: 500ms\n  lease: 3s\n")
      << (own_metrics ? "" : "  metrics_listen: \"127.0.0.1:0\"\n")
      << "  kill_grace: 2s\n  shutdown_grace: 5s\n"
      << worker_yaml << "\n";
  if (clients_yaml.empty()) {
    out << "clients:\n"
        << "  - {name: alice, token_sha256: \"" << Sha256Hex(kAliceToken)
        << "\", allow_jobs: [\"*\"]}\n"
        << "  - {name: bob, token_sha256: \"" << Sha256Hex(kBobToken)
        << "\", allow_jobs: [\"bob-*\"]}\n";
  } else {
    out << "clients:\n" << clients_yaml << "\n";
  }
  out << "jobs:\n" << jobs_yaml << "\n";
  if (!projects_yaml.empty()) out << "projects:\n" << projects_yaml << "\n";
  if (!webhooks_yaml.empty()) out << "webhooks:\n" << webhooks_yaml << "\n";
}

void Deployment::SetKafkaDown(bool down) {
  if (broker_) return broker_->SetDown(down);
  ASSERT_NE(cluster_, nullptr);
  ASSERT_EQ(tier_cluster_, nullptr)
      << "the kafka tier's broker is shared by the tests running beside this one; pass "
         "OwnKafkaOnTheKafkaTier() to this deployment";
  for (int i = 1; i <= cluster_->brokers(); ++i) {
    EXPECT_TRUE(down ? cluster_->Kill(i) : cluster_->Restart(i)) << cluster_->Logs();
  }
}

std::unique_ptr<KafkaCluster> OwnKafkaOnTheKafkaTier() {
  const char* tier = std::getenv("SLUICE_TEST_KAFKA_BROKERS");
  if (tier == nullptr || *tier == '\0') return nullptr;
  auto own = std::make_unique<KafkaCluster>(1);
  EXPECT_TRUE(own->ok()) << own->Logs();
  return own;
}

Deployment::~Deployment() {
  for (auto& p : processes_) p->Kill();
  processes_.clear();
}

SluiceProcess& Deployment::StartGateway() {
  processes_.push_back(std::make_unique<SluiceProcess>("gateway", config_path_, dir_.path()));
  EXPECT_TRUE(processes_.back()->Start()) << processes_.back()->Log();
  return *processes_.back();
}

SluiceProcess& Deployment::StartWorker() {
  processes_.push_back(std::make_unique<SluiceProcess>("worker", config_path_, dir_.path()));
  EXPECT_TRUE(processes_.back()->Start()) << processes_.back()->Log();
  return *processes_.back();
}

std::string TriggerPeriodic(HttpClient& http, const SluiceProcess& gateway, const std::string& job,
                            const std::string& token) {
  HttpResponse r = http.Post(gateway.url() + "/v1/executions", token,
                             "{\"job_name\": \"" + job + "\", \"job_execution_type\": \"1\"}");
  EXPECT_EQ(r.status, 200) << r.body << r.error;
  if (r.status != 200) return "";
  auto doc = r.Json();
  return doc.IsObject() && doc.HasMember("id") ? doc["id"].GetString() : "";
}

std::string StatusOf(HttpClient& http, const SluiceProcess& gateway, const std::string& id,
                     const std::string& token) {
  HttpResponse r = http.Get(gateway.url() + "/v1/executions/" + id, token);
  if (r.status != 200) return "";
  auto doc = r.Json();
  return doc.IsObject() && doc.HasMember("job_status") ? doc["job_status"].GetString() : "";
}

std::string WaitForEnd(HttpClient& http, const SluiceProcess& gateway, const std::string& id,
                       std::chrono::milliseconds timeout) {
  std::string last;
  WaitFor(
      [&] {
        last = StatusOf(http, gateway, id);
        return last == "SUCCESS" || last == "FAILURE" || last == "ABORTED" || last == "ERROR";
      },
      timeout);
  return last;
}

}  // namespace sluice::testing
