#include "server/metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace palisade::server::metrics {
namespace {

// std::atomic<double>::fetch_add exists in C++20, but a compare-exchange loop
// states the intent (no lost updates between threads) without relying on the
// library's lowering of it.
void atomicAdd(std::atomic<double>& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount, std::memory_order_relaxed,
                                       std::memory_order_relaxed)) {
  }
}

// Prometheus parses sample values with Go's strconv.ParseFloat: integers are
// written without an exponent (counters read naturally), other values in the
// shortest form that reads back to the same double, infinities as +Inf/-Inf.
std::string formatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  // 2^53: every integer up to here is exact, so the decimal form is exact too.
  constexpr double kExactIntegers = 9007199254740992.0;
  if (value == std::trunc(value) && std::fabs(value) <= kExactIntegers) {
    return std::to_string(static_cast<int64_t>(value));  // also turns -0 into "0"
  }
  char buffer[64];
  // General format: fixed notation for "0.0005", exponent only for very small
  // or large values ("1.5e-07"), as Go's strconv.FormatFloat(v, 'g', -1) does.
  const auto result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::general);
  return std::string(buffer, result.ptr);
}

// Label values escape backslash, double quote and line feed; HELP text
// escapes backslash and line feed only (text format 0.0.4).
std::string escape(std::string_view text, bool quote) {
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
      out += c;
    }
  }
  return out;
}

bool isMetricName(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) {
      return false;
    }
  }
  return true;
}

bool isLabelName(std::string_view name) {
  // Names starting with "__" are reserved for Prometheus' own use.
  return isMetricName(name) && name.find(':') == std::string_view::npos &&
         !name.starts_with("__");
}

void checkNames(const std::string& name, const std::vector<std::string>& label_names,
                bool histogram) {
  if (!isMetricName(name)) {
    throw std::invalid_argument("invalid metric name \"" + name + "\"");
  }
  for (const auto& label : label_names) {
    if (!isLabelName(label) || (histogram && label == "le")) {
      throw std::invalid_argument("invalid label name \"" + label + "\" for metric " + name);
    }
  }
}

// {a="x",b="y"} with `extra` (already escaped, e.g. le="0.5") appended; empty
// when there is nothing to put between the braces.
std::string labelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string& extra = {}) {
  if (names.empty() && extra.empty()) {
    return {};
  }
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += names[i];
    out += "=\"";
    out += escape(values[i], /*quote=*/true);
    out += '"';
  }
  if (!extra.empty()) {
    if (!names.empty()) {
      out += ',';
    }
    out += extra;
  }
  out += '}';
  return out;
}

void renderHeader(std::string& out, const std::string& name, const std::string& help,
                  std::string_view type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += escape(help, /*quote=*/false);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

template <class Metric>
void renderScalar(std::string& out, const Family<Metric>& family, std::string_view type) {
  renderHeader(out, family.name(), family.help(), type);
  family.forEach([&](const std::vector<std::string>& values, const Metric& metric) {
    out += family.name();
    out += labelSet(family.labelNames(), values);
    out += ' ';
    out += formatValue(metric.value());
    out += '\n';
  });
}

void renderHistogram(std::string& out, const Family<Histogram>& family) {
  renderHeader(out, family.name(), family.help(), "histogram");
  const auto& names = family.labelNames();
  family.forEach([&](const std::vector<std::string>& values, const Histogram& histogram) {
    const std::vector<uint64_t> cumulative = histogram.cumulativeCounts();
    const auto& bounds = histogram.upperBounds();
    for (size_t i = 0; i < cumulative.size(); ++i) {
      const std::string le =
          i < bounds.size() ? formatValue(bounds[i]) : std::string("+Inf");
      out += family.name();
      out += "_bucket";
      out += labelSet(names, values, "le=\"" + le + "\"");
      out += ' ';
      out += std::to_string(cumulative[i]);
      out += '\n';
    }
    const std::string labels = labelSet(names, values);
    out += family.name() + "_sum" + labels + ' ' + formatValue(histogram.sum()) + '\n';
    // The +Inf bucket rather than count(): an observation racing with this
    // render may have reached one but not the other, and the format requires
    // _count to equal the +Inf bucket.
    out += family.name() + "_count" + labels + ' ' + std::to_string(cumulative.back()) + '\n';
  });
}

}  // namespace

void Counter::inc(double amount) {
  // A counter only goes up: a decrease would read as a reset to rate().
  if (!(amount > 0.0)) {
    return;
  }
  atomicAdd(value_, amount);
}

void Counter::raiseTo(double total) {
  double current = value_.load(std::memory_order_relaxed);
  while (total > current &&
         !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
  }
}

double Counter::value() const { return value_.load(std::memory_order_relaxed); }

void Gauge::set(double value) { value_.store(value, std::memory_order_relaxed); }

void Gauge::add(double amount) { atomicAdd(value_, amount); }

double Gauge::value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  // The +Inf bucket is always there; NaN cannot bound anything.
  std::erase_if(upper_bounds_, [](double bound) { return std::isnan(bound) || std::isinf(bound); });
  std::sort(upper_bounds_.begin(), upper_bounds_.end());
  upper_bounds_.erase(std::unique(upper_bounds_.begin(), upper_bounds_.end()),
                      upper_bounds_.end());
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double value) {
  // NaN belongs to no bucket and would poison the sum.
  if (std::isnan(value)) {
    return;
  }
  // Bucket i counts values v with bounds[i-1] < v <= bounds[i] ("le").
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  const auto index = static_cast<size_t>(it - upper_bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  atomicAdd(sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulativeCounts() const {
  std::vector<uint64_t> counts(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    counts[i] = running;
  }
  return counts;
}

double Histogram::sum() const { return sum_.load(std::memory_order_relaxed); }

uint64_t Histogram::count() const { return count_.load(std::memory_order_relaxed); }

template <class Metric>
Family<Metric>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       std::function<std::unique_ptr<Metric>()> make)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_(std::move(make)) {}

template <class Metric>
Metric& Family<Metric>::with(std::span<const std::string_view> label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + " takes " +
                                std::to_string(label_names_.size()) + " label values, not " +
                                std::to_string(label_values.size()));
  }
  std::lock_guard lock(mutex_);
  auto it = children_.find(label_values);
  if (it == children_.end()) {
    it = children_
             .emplace(std::vector<std::string>(label_values.begin(), label_values.end()), make_())
             .first;
  }
  return *it->second;
}

template <class Metric>
Metric& Family<Metric>::with(const std::vector<std::string>& label_values) {
  const std::vector<std::string_view> views(label_values.begin(), label_values.end());
  return with(std::span<const std::string_view>(views));
}

template <class Metric>
void Family<Metric>::forEach(
    const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, metric] : children_) {
    visit(values, *metric);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

namespace {

// The family registered under `name` in `families`, or null. Registering a
// name again returns the existing family so that independent components can
// share one; a different type or label list is a programming error.
template <class Metric>
Family<Metric>* findFamily(const std::vector<std::unique_ptr<Family<Metric>>>& families,
                           const std::vector<std::string>& order, const std::string& name,
                           std::string_view kind, const std::vector<std::string>& label_names) {
  for (const auto& entry : order) {
    if (entry.substr(2) == name && entry.substr(0, 1) != kind) {
      throw std::invalid_argument("metric " + name + " is already registered with another type");
    }
  }
  for (const auto& family : families) {
    if (family->name() == name) {
      if (family->labelNames() != label_names) {
        throw std::invalid_argument("metric " + name +
                                    " is already registered with other label names");
      }
      return family.get();
    }
  }
  return nullptr;
}

}  // namespace

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  checkNames(name, label_names, /*histogram=*/false);
  std::lock_guard lock(mutex_);
  if (auto* existing = findFamily(counters_, order_, name, "c", label_names)) {
    return *existing;
  }
  auto& family = *counters_.emplace_back(std::make_unique<Family<Counter>>(
      name, help, std::move(label_names), [] { return std::make_unique<Counter>(); }));
  order_.push_back("c:" + name);
  // A metric without labels exists from the start, so that it reads 0 rather
  // than being absent until its first increment.
  if (family.labelNames().empty()) {
    family.with(std::vector<std::string>{});
  }
  return family;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  checkNames(name, label_names, /*histogram=*/false);
  std::lock_guard lock(mutex_);
  if (auto* existing = findFamily(gauges_, order_, name, "g", label_names)) {
    return *existing;
  }
  auto& family = *gauges_.emplace_back(std::make_unique<Family<Gauge>>(
      name, help, std::move(label_names), [] { return std::make_unique<Gauge>(); }));
  order_.push_back("g:" + name);
  if (family.labelNames().empty()) {
    family.with(std::vector<std::string>{});
  }
  return family;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> upper_bounds) {
  checkNames(name, label_names, /*histogram=*/true);
  std::lock_guard lock(mutex_);
  if (auto* existing = findFamily(histograms_, order_, name, "h", label_names)) {
    return *existing;
  }
  auto& family = *histograms_.emplace_back(std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [bounds = std::move(upper_bounds)] { return std::make_unique<Histogram>(bounds); }));
  order_.push_back("h:" + name);
  if (family.labelNames().empty()) {
    family.with(std::vector<std::string>{});
  }
  return family;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  size_t counter_index = 0;
  size_t gauge_index = 0;
  size_t histogram_index = 0;
  // Each vector holds its families in registration order, and order_ says how
  // the three interleave.
  for (const auto& entry : order_) {
    switch (entry[0]) {
      case 'c':
        renderScalar(out, *counters_[counter_index++], "counter");
        break;
      case 'g':
        renderScalar(out, *gauges_[gauge_index++], "gauge");
        break;
      default:
        renderHistogram(out, *histograms_[histogram_index++]);
        break;
    }
  }
  return out;
}

std::vector<double> latencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   5.0,   10.0};
}

}  // namespace palisade::server::metrics
