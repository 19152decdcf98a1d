#include "common/metrics.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "common/log.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "unknown"
#endif

namespace sluice::metrics {
namespace {

constexpr char kValueSeparator = '\x1f';

std::string JoinValues(const std::vector<std::string_view>& values) {
  std::string key;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) key.push_back(kValueSeparator);
    key.append(values[i]);
  }
  return key;
}

// {a="x",b="y"} with an optional last label (le) added; "" without any.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out.push_back(',');
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

const char* TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void Sample(std::string& out, std::string_view name, std::string_view labels, double value) {
  out += name;
  out += labels;
  out.push_back(' ');
  out += FormatValue(value);
  out.push_back('\n');
}

// The format escapes backslash and line feed everywhere, and the double quote in label values.
std::string Escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) { return Escape(value, true); }

std::string EscapeHelp(std::string_view help) { return Escape(help, false); }

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

// --- Histogram ---

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10};
  return buckets;
}

const std::vector<double>& JobDurationBuckets() {
  static const std::vector<double> buckets = {0.1, 0.5, 1,   2.5,  5,    10,   30,   60,
                                              120, 300, 600, 1200, 1800, 3600, 7200, 21600};
  return buckets;
}

// --- Families ---

void* FamilyBase::Find(const std::vector<std::string_view>& values) {
  if (values.size() != label_names_.size()) {
    LogError("metrics", name_ + ": " + std::to_string(values.size()) + " label values for " +
                            std::to_string(label_names_.size()) + " labels");
    std::abort();
  }
  std::string key = JoinValues(values);
  {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    auto it = children_.find(key);
    if (it != children_.end()) return it->second.metric.get();
  }
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto it = children_.find(key);
  if (it != children_.end()) return it->second.metric.get();
  if (children_.size() >= kMaxChildren) {
    if (!overflow_logged_) {
      overflow_logged_ = true;
      LogWarn("metrics", name_ + " has " + std::to_string(kMaxChildren) +
                             " label sets, its limit; further ones are counted as \"other\"");
    }
    std::vector<std::string_view> other(values.size(), kOverflowLabelValue);
    key = JoinValues(other);
    it = children_.find(key);
    if (it != children_.end()) return it->second.metric.get();
    Child child{std::vector<std::string>(other.begin(), other.end()), Make()};
    return children_.emplace(key, std::move(child)).first->second.metric.get();
  }
  Child child{std::vector<std::string>(values.begin(), values.end()), Make()};
  return children_.emplace(std::move(key), std::move(child)).first->second.metric.get();
}

void FamilyBase::Forget(const std::vector<std::string_view>& values) {
  std::unique_lock<std::shared_mutex> lock(mutex_);
  auto it = children_.find(JoinValues(values));
  if (it == children_.end()) return;
  retired_.push_back(std::move(it->second.metric));
  children_.erase(it);
}

size_t FamilyBase::size() const {
  std::shared_lock<std::shared_mutex> lock(mutex_);
  return children_.size();
}

void FamilyBase::Render(std::string& out) const {
  out += "# HELP " + name_ + " " + EscapeHelp(help_) + "\n";
  out += "# TYPE " + name_ + " " + TypeName(type_) + "\n";
  std::shared_lock<std::shared_mutex> lock(mutex_);
  for (const auto& [key, child] : children_) RenderChild(child.metric.get(), child.values, out);
}

template <>
std::shared_ptr<void> Family<Counter>::Make() const {
  return std::make_shared<Counter>();
}
template <>
std::shared_ptr<void> Family<Gauge>::Make() const {
  return std::make_shared<Gauge>();
}
template <>
std::shared_ptr<void> Family<Histogram>::Make() const {
  return std::make_shared<Histogram>(bounds_);
}

template <>
void Family<Counter>::RenderChild(const void* child, const std::vector<std::string>& values,
                                  std::string& out) const {
  Sample(out, name(), LabelText(label_names(), values),
         static_cast<const Counter*>(child)->Value());
}
template <>
void Family<Gauge>::RenderChild(const void* child, const std::vector<std::string>& values,
                                std::string& out) const {
  Sample(out, name(), LabelText(label_names(), values), static_cast<const Gauge*>(child)->Value());
}
template <>
void Family<Histogram>::RenderChild(const void* child, const std::vector<std::string>& values,
                                    std::string& out) const {
  const auto* h = static_cast<const Histogram*>(child);
  Histogram::Snapshot s = h->Take();
  const auto& names = label_names();
  std::string labels = LabelText(names, values);
  std::string bucket = name() + "_bucket";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    Sample(out, bucket, LabelText(names, values, "le", FormatValue(bounds_[i])),
           static_cast<double>(s.cumulative[i]));
  }
  uint64_t count = s.cumulative.back();
  Sample(out, bucket, LabelText(names, values, "le", "+Inf"), static_cast<double>(count));
  Sample(out, name() + "_sum", labels, s.sum);
  Sample(out, name() + "_count", labels, static_cast<double>(count));
}

// --- Registry ---

template <typename T>
Family<T>& Registry::Add(std::string name, std::string help, std::vector<std::string> label_names,
                         Type type, const std::vector<double>& bounds) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    if (it->second->type() != type || it->second->label_names() != label_names) {
      LogError("metrics", name + " registered twice with different types or labels");
      std::abort();
    }
    return static_cast<Family<T>&>(*it->second);
  }
  auto family =
      std::make_unique<Family<T>>(name, std::move(help), std::move(label_names), type, bounds);
  Family<T>& ref = *family;
  families_.emplace(std::move(name), std::move(family));
  return ref;
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> label_names) {
  return Add<Counter>(std::move(name), std::move(help), std::move(label_names), Type::kCounter, {});
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> label_names) {
  return Add<Gauge>(std::move(name), std::move(help), std::move(label_names), Type::kGauge, {});
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> label_names,
                                          const std::vector<double>& bounds) {
  return Add<Histogram>(std::move(name), std::move(help), std::move(label_names), Type::kHistogram,
                        bounds);
}

Registry::Hook& Registry::Hook::operator=(Hook&& other) noexcept {
  if (this != &other) {
    if (registry_) registry_->RemoveHook(id_);
    registry_ = other.registry_;
    id_ = other.id_;
    other.registry_ = nullptr;
  }
  return *this;
}

Registry::Hook::~Hook() {
  if (registry_) registry_->RemoveHook(id_);
}

Registry::Hook Registry::OnCollect(std::function<void()> collect) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  uint64_t id = next_hook_++;
  hooks_.emplace(id, std::move(collect));
  return Hook(this, id);
}

void Registry::RemoveHook(uint64_t id) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  hooks_.erase(id);
}

std::string Registry::Render() const {
  {
    std::lock_guard<std::mutex> lock(hooks_mutex_);
    for (const auto& [id, hook] : hooks_) hook();
  }
  std::string out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, family] : families_) family->Render(out);
  return out;
}

Registry& DefaultRegistry() {
  static Registry* registry = new Registry();  // never destroyed: threads may update it at exit
  return *registry;
}

void RegisterProcessMetrics(Registry& registry) {
  registry
      .AddGauge("sluice_build_info",
                "Always 1; the labels say which Sluice this is: its version and the librdkafka it "
                "runs with.",
                {"version", "librdkafka"})
      .With({SLUICE_VERSION, rd_kafka_version_str()})
      .Set(1);
  static const double start =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  registry
      .AddGauge("process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds.")
      .Get()
      .Set(start);
}

}  // namespace sluice::metrics
