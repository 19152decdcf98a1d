#pragma once

// Prometheus metrics of a Sluice process: counters, gauges and histograms in families with
// labels, rendered in the text exposition format 0.0.4 for GET /metrics.
//
// Our own, small: Debian 12 has no prometheus-cpp package, and what Sluice needs (three metric
// types, one text format) is a few hundred lines. Its output is checked by `promtool check
// metrics` in the unit tests.
//
// Hot path: a child (one label set) is updated with atomics only. Finding a child by its label
// values takes a shared lock and a map lookup (an exclusive lock only the first time a label
// set is seen); code on a request's path with fixed labels keeps the child's reference instead.
// Children are never destroyed before their registry, so a kept reference stays valid.
//
// Label values must come from bounded sets (route templates, configured job and client names,
// status names), never from a request's raw values or execution ids. As a defence, a family
// holds at most `kMaxChildren` label sets; further ones are counted in one child whose every
// label value is "other".

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::metrics {

inline constexpr size_t kMaxChildren = 1000;
inline constexpr std::string_view kOverflowLabelValue = "other";

class Counter {
 public:
  void Inc(double by = 1) {
    if (by > 0) value_.fetch_add(by, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  void Dec(double by = 1) { value_.fetch_sub(by, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed buckets (upper bounds, ascending; +Inf is implied).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
  };
  Snapshot Take() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

// Default buckets for request latencies, in seconds: 1 ms to 10 s.
const std::vector<double>& LatencyBuckets();
// Buckets for job durations and start delays, in seconds: 100 ms to 6 h.
const std::vector<double>& JobDurationBuckets();

enum class Type { kCounter, kGauge, kHistogram };

// What every family has: a name, its help, its label names and its children.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names, Type type)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        type_(type) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  Type type() const { return type_; }
  // Appends the family's HELP, TYPE and samples.
  void Render(std::string& out) const;
  size_t size() const;

 protected:
  // The child of `values` (as many as label_names), created when new; the overflow child once
  // the family holds kMaxChildren.
  void* Find(const std::vector<std::string_view>& values);
  void Forget(const std::vector<std::string_view>& values);
  virtual std::shared_ptr<void> Make() const = 0;
  virtual void RenderChild(const void* child, const std::vector<std::string>& values,
                           std::string& out) const = 0;

 private:
  struct Child {
    std::vector<std::string> values;
    std::shared_ptr<void> metric;
  };
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  Type type_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Child> children_;  // by the values joined with '\x1f'
  // Removed children are kept alive here: a caller may still hold a reference.
  std::vector<std::shared_ptr<void>> retired_;
  bool overflow_logged_ = false;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, Type type,
         std::vector<double> bounds = {})
      : FamilyBase(std::move(name), std::move(help), std::move(label_names), type),
        bounds_(std::move(bounds)) {}
  // The child with these label values, in the order of the family's label names.
  T& With(std::initializer_list<std::string_view> values) {
    return *static_cast<T*>(Find(std::vector<std::string_view>(values)));
  }
  T& With(const std::vector<std::string_view>& values) { return *static_cast<T*>(Find(values)); }
  // The one child of a family without labels.
  T& Get() { return *static_cast<T*>(Find({})); }
  // Drops the child of these label values from the output (a partition no longer assigned).
  void Remove(const std::vector<std::string_view>& values) { Forget(values); }

 private:
  std::shared_ptr<void> Make() const override;
  void RenderChild(const void* child, const std::vector<std::string>& values,
                   std::string& out) const override;
  std::vector<double> bounds_;
};

template <>
std::shared_ptr<void> Family<Counter>::Make() const;
template <>
std::shared_ptr<void> Family<Gauge>::Make() const;
template <>
std::shared_ptr<void> Family<Histogram>::Make() const;
template <>
void Family<Counter>::RenderChild(const void*, const std::vector<std::string>&, std::string&) const;
template <>
void Family<Gauge>::RenderChild(const void*, const std::vector<std::string>&, std::string&) const;
template <>
void Family<Histogram>::RenderChild(const void*, const std::vector<std::string>&,
                                    std::string&) const;

// Every family of a process. Families are registered at start-up and live as long as the
// registry; asking again for a name gives the family registered first (its help, labels and
// type must match, or it aborts: a programming error).
class Registry {
 public:
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name, std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> label_names,
                                  const std::vector<double>& bounds);

  // Called at the start of every Render, to set gauges read from elsewhere (the size of the
  // status view, free job slots). The hook is removed when the returned handle goes.
  class Hook {
   public:
    Hook() = default;
    Hook(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
    Hook(Hook&& other) noexcept { *this = std::move(other); }
    Hook& operator=(Hook&& other) noexcept;
    ~Hook();

   private:
    Registry* registry_ = nullptr;
    uint64_t id_ = 0;
  };
  [[nodiscard]] Hook OnCollect(std::function<void()> collect);

  // The exposition text of every family, sorted by name.
  std::string Render() const;

 private:
  template <typename T>
  Family<T>& Add(std::string name, std::string help, std::vector<std::string> label_names,
                 Type type, const std::vector<double>& bounds);
  void RemoveHook(uint64_t id);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
  mutable std::mutex hooks_mutex_;  // held while hooks run: a hook is never removed mid-call
  std::map<uint64_t, std::function<void()>> hooks_;
  uint64_t next_hook_ = 1;
};

// The process's registry: what GET /metrics shows.
Registry& DefaultRegistry();

// The exposition's content type.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Formatting rules of the exposition format, exposed for tests.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
std::string FormatValue(double v);

// sluice_build_info and process_start_time_seconds; called by each part of a process as it
// starts (a second call changes nothing).
void RegisterProcessMetrics(Registry& registry);

}  // namespace sluice::metrics
