#include "server/metrics/registry.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace palisade::server::metrics {
namespace {

TEST(Registry, RendersAnUnlabelledCounterFromZero) {
  Registry registry;
  registry.counter("palisade_reloads_total", "Configuration reloads.");
  EXPECT_EQ(registry.render(),
            "# HELP palisade_reloads_total Configuration reloads.\n"
            "# TYPE palisade_reloads_total counter\n"
            "palisade_reloads_total 0\n");
}

TEST(Registry, RendersLabelledCountersSortedByLabelValues) {
  Registry registry;
  auto& requests = registry.counter("palisade_requests_total", "Admission requests.",
                                    {"route", "decision"});
  requests.with({"/validate", "deny"}).inc();
  requests.with({"/mutate", "allow"}).inc(2);
  requests.with({"/validate", "deny"}).inc();
  EXPECT_EQ(registry.render(),
            "# HELP palisade_requests_total Admission requests.\n"
            "# TYPE palisade_requests_total counter\n"
            "palisade_requests_total{route=\"/mutate\",decision=\"allow\"} 2\n"
            "palisade_requests_total{route=\"/validate\",decision=\"deny\"} 2\n");
}

TEST(Registry, LabelledFamilyWithoutChildrenRendersOnlyItsHeader) {
  Registry registry;
  registry.counter("palisade_bad_total", "Bad requests.", {"reason"});
  EXPECT_EQ(registry.render(),
            "# HELP palisade_bad_total Bad requests.\n"
            "# TYPE palisade_bad_total counter\n");
}

TEST(Registry, RendersGaugesWithNegativeAndFractionalValues) {
  Registry registry;
  auto& gauge = registry.gauge("palisade_temperature", "A gauge.", {"zone"});
  gauge.with({"a"}).set(-3);
  gauge.with({"b"}).set(0.25);
  gauge.with({"c"}).set(1.5e-7);
  gauge.with({"d"}).set(std::numeric_limits<double>::infinity());
  gauge.with({"e"}).set(-0.0);
  EXPECT_EQ(registry.render(),
            "# HELP palisade_temperature A gauge.\n"
            "# TYPE palisade_temperature gauge\n"
            "palisade_temperature{zone=\"a\"} -3\n"
            "palisade_temperature{zone=\"b\"} 0.25\n"
            "palisade_temperature{zone=\"c\"} 1.5e-07\n"
            "palisade_temperature{zone=\"d\"} +Inf\n"
            "palisade_temperature{zone=\"e\"} 0\n");
}

TEST(Registry, LargeIntegersAreWrittenWithoutExponent) {
  Registry registry;
  registry.counter("palisade_bytes_total", "Bytes.").with({}).inc(12345678901234.0);
  EXPECT_EQ(registry.render(),
            "# HELP palisade_bytes_total Bytes.\n"
            "# TYPE palisade_bytes_total counter\n"
            "palisade_bytes_total 12345678901234\n");
}

TEST(Registry, GaugeAddMovesBothWays) {
  Registry registry;
  auto& connections = registry.gauge("palisade_http_connections", "Open connections.").with({});
  connections.add(1);
  connections.add(1);
  connections.add(-1);
  EXPECT_EQ(connections.value(), 1.0);
}

TEST(Registry, CounterIgnoresDecrements) {
  Registry registry;
  auto& counter = registry.counter("palisade_things_total", "Things.").with({});
  counter.inc(3);
  counter.inc(-1);
  EXPECT_EQ(counter.value(), 3.0);
}

TEST(Registry, RendersAnUnlabelledHistogram) {
  Registry registry;
  auto& latency = registry.histogram("palisade_latency_seconds", "Latency.", {}, {0.5, 0.25, 1})
                      .with({});
  latency.observe(0.125);
  latency.observe(0.25);  // on a bound: counted in le="0.25"
  latency.observe(0.75);
  latency.observe(3);
  EXPECT_EQ(registry.render(),
            "# HELP palisade_latency_seconds Latency.\n"
            "# TYPE palisade_latency_seconds histogram\n"
            "palisade_latency_seconds_bucket{le=\"0.25\"} 2\n"
            "palisade_latency_seconds_bucket{le=\"0.5\"} 2\n"
            "palisade_latency_seconds_bucket{le=\"1\"} 3\n"
            "palisade_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "palisade_latency_seconds_sum 4.125\n"
            "palisade_latency_seconds_count 4\n");
}

TEST(Registry, RendersALabelledHistogramWithLeLast) {
  Registry registry;
  auto& latency =
      registry.histogram("palisade_request_seconds", "Request latency.", {"route"}, {0.001, 0.01});
  latency.with({"/validate"}).observe(0.002);
  latency.with({"/mutate"}).observe(0.0005);
  EXPECT_EQ(registry.render(),
            "# HELP palisade_request_seconds Request latency.\n"
            "# TYPE palisade_request_seconds histogram\n"
            "palisade_request_seconds_bucket{route=\"/mutate\",le=\"0.001\"} 1\n"
            "palisade_request_seconds_bucket{route=\"/mutate\",le=\"0.01\"} 1\n"
            "palisade_request_seconds_bucket{route=\"/mutate\",le=\"+Inf\"} 1\n"
            "palisade_request_seconds_sum{route=\"/mutate\"} 0.0005\n"
            "palisade_request_seconds_count{route=\"/mutate\"} 1\n"
            "palisade_request_seconds_bucket{route=\"/validate\",le=\"0.001\"} 0\n"
            "palisade_request_seconds_bucket{route=\"/validate\",le=\"0.01\"} 1\n"
            "palisade_request_seconds_bucket{route=\"/validate\",le=\"+Inf\"} 1\n"
            "palisade_request_seconds_sum{route=\"/validate\"} 0.002\n"
            "palisade_request_seconds_count{route=\"/validate\"} 1\n");
}

TEST(Registry, HistogramBoundsAreSortedDeduplicatedAndExcludeInfinity) {
  const Histogram histogram({2, 1, 2, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(histogram.upperBounds(), (std::vector<double>{1, 2}));
  EXPECT_EQ(histogram.cumulativeCounts(), (std::vector<uint64_t>{0, 0, 0}));
}

TEST(Registry, EscapesLabelValuesAndHelpText) {
  Registry registry;
  registry.counter("palisade_escapes_total", "Help with \\ and\nnewline \"quoted\".", {"reason"})
      .with({"back\\slash \"quote\"\nline"})
      .inc();
  EXPECT_EQ(registry.render(),
            "# HELP palisade_escapes_total Help with \\\\ and\\nnewline \"quoted\".\n"
            "# TYPE palisade_escapes_total counter\n"
            "palisade_escapes_total{reason=\"back\\\\slash \\\"quote\\\"\\nline\"} 1\n");
}

TEST(Registry, FamiliesRenderInRegistrationOrderAcrossTypes) {
  Registry registry;
  registry.gauge("palisade_b", "B.");
  registry.counter("palisade_a_total", "A.");
  EXPECT_EQ(registry.render(),
            "# HELP palisade_b B.\n"
            "# TYPE palisade_b gauge\n"
            "palisade_b 0\n"
            "# HELP palisade_a_total A.\n"
            "# TYPE palisade_a_total counter\n"
            "palisade_a_total 0\n");
}

TEST(Registry, RegisteringANameAgainReturnsTheSameFamily) {
  Registry registry;
  auto& first = registry.counter("palisade_x_total", "X.", {"reason"});
  auto& second = registry.counter("palisade_x_total", "X.", {"reason"});
  EXPECT_EQ(&first, &second);
  EXPECT_THROW(registry.gauge("palisade_x_total", "X."), std::invalid_argument);
  EXPECT_THROW(registry.counter("palisade_x_total", "X.", {"other"}), std::invalid_argument);
}

TEST(Registry, RejectsInvalidNamesAndWrongLabelCounts) {
  Registry registry;
  EXPECT_THROW(registry.counter("1bad", "."), std::invalid_argument);
  EXPECT_THROW(registry.counter("palisade_ok", ".", {"bad-label"}), std::invalid_argument);
  EXPECT_THROW(registry.counter("palisade_ok", ".", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(registry.histogram("palisade_h", ".", {"le"}, {1}), std::invalid_argument);
  auto& family = registry.counter("palisade_labelled_total", ".", {"a", "b"});
  EXPECT_THROW(family.with({"only one"}), std::invalid_argument);
}

TEST(Registry, ConcurrentIncrementsFromSeveralThreadsAllCount) {
  Registry registry;
  auto& counter = registry.counter("palisade_concurrent_total", "C.", {"k"});
  auto& histogram = registry.histogram("palisade_concurrent_seconds", "H.", {}, {0.5}).with({});
  auto& gauge = registry.gauge("palisade_concurrent", "G.").with({});
  constexpr int kThreads = 8;
  constexpr int kIterations = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        counter.with({t % 2 == 0 ? "even" : "odd"}).inc(0.5);
        histogram.observe(i % 2 == 0 ? 0.25 : 1.0);
        gauge.add(1);
        gauge.add(-1);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  // Halves and quarters are exact in binary, so the sums are exact.
  EXPECT_EQ(counter.with({"even"}).value(), kThreads / 2 * kIterations * 0.5);
  EXPECT_EQ(counter.with({"odd"}).value(), kThreads / 2 * kIterations * 0.5);
  EXPECT_EQ(histogram.count(), uint64_t{kThreads} * kIterations);
  EXPECT_EQ(histogram.cumulativeCounts(),
            (std::vector<uint64_t>{uint64_t{kThreads} * kIterations / 2,
                                   uint64_t{kThreads} * kIterations}));
  EXPECT_EQ(histogram.sum(), kThreads * kIterations / 2 * 1.25);
  EXPECT_EQ(gauge.value(), 0.0);
}

TEST(Registry, LatencyBucketsSpanAHundredMicrosecondsToTenSeconds) {
  const auto buckets = latencyBuckets();
  ASSERT_FALSE(buckets.empty());
  EXPECT_EQ(buckets.front(), 0.0001);
  EXPECT_EQ(buckets.back(), 10.0);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end()));
}

}  // namespace
TEST(Counter, RaiseToMirrorsAnExternalTotalAndNeverGoesDown) {
  Counter counter;
  counter.raiseTo(10);
  EXPECT_EQ(counter.value(), 10);
  counter.raiseTo(4);
  EXPECT_EQ(counter.value(), 10);
  counter.raiseTo(12.5);
  EXPECT_EQ(counter.value(), 12.5);
}

}  // namespace palisade::server::metrics
