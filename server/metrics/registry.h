#pragma once

// Prometheus metrics: counters, gauges and histograms with labels, rendered in
// the text exposition format (version 0.0.4). Written here because Debian
// bookworm packages no C++ Prometheus client; it covers only what Palisade
// exports.
//
// Thread-safety: every member function may be called from any thread.
// Families and their children live as long as the registry; references to
// them stay valid.

#include <atomic>
#include <algorithm>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <string>
#include <vector>

namespace palisade::server::metrics {

class Counter {
 public:
  void inc(double amount = 1.0);
  // Mirrors a total counted elsewhere (the kernel's per-CPU packet counters);
  // a smaller value than the current one is ignored, as a counter never
  // goes down.
  void raiseTo(double total);
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double value);
  void add(double amount);
  double value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Cumulative count per upper bound (the last is +Inf), the sum and count.
  std::vector<uint64_t> cumulativeCounts() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& upperBounds() const { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, one more for +Inf
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

// A metric name with a fixed list of label names; one child per distinct list
// of label values, created on first use.
template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Metric>()> make);
  // The child for these label values (as many as there are label names).
  // Looking up an existing child allocates nothing: it runs on every request.
  Metric& with(std::span<const std::string_view> label_values);
  Metric& with(std::initializer_list<std::string_view> label_values) {
    return with(std::span<const std::string_view>(label_values.begin(), label_values.size()));
  }
  Metric& with(const std::vector<std::string>& label_values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  // Calls visit(label_values, metric) for each child, in label order.
  void forEach(const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  // Label values compared as sequences of strings, so that a lookup can take
  // string_views.
  struct LabelValuesLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                          [](std::string_view x, std::string_view y) { return x < y; });
    }
  };
  std::map<std::vector<std::string>, std::unique_ptr<Metric>, LabelValuesLess> children_;
};

class Registry {
 public:
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names,
                               std::vector<double> upper_bounds);
  // The text exposition format: # HELP and # TYPE lines, then samples, label
  // values escaped as the format requires (\\, \", \n).
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  // In registration order, so that the output is stable.
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<std::string> order_;  // "c:name", "g:name", "h:name"
};

// Latency buckets in seconds suited to admission: 100 µs to 10 s.
std::vector<double> latencyBuckets();

}  // namespace palisade::server::metrics
