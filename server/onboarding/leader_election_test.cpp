#include "server/onboarding/leader_election.h"

#include <gtest/gtest.h>

#include <functional>
#include <regex>
#include <utility>

namespace palisade::server {
namespace {

using namespace std::chrono_literals;
using Clock = LeaderElector::Clock;

// The apiserver's rules for a Lease, in memory: create fails if one exists,
// update fails unless it names the stored resourceVersion.
class MemoryLeaseStore : public LeaseStore {
 public:
  policy::Result<std::optional<LeaseRecord>> get() override {
    if (unreachable) {
      return policy::fail("connection refused");
    }
    return stored;
  }
  policy::Result<LeaseRecord> create(const LeaseRecord& record) override {
    if (unreachable) {
      return policy::fail("connection refused");
    }
    if (stored) {
      return policy::fail("leases.coordination.k8s.io \"palisade\" already exists");
    }
    return save(record);
  }
  policy::Result<LeaseRecord> update(const LeaseRecord& record) override {
    if (unreachable) {
      return policy::fail("connection refused");
    }
    if (before_update) {
      const std::function<void()> hook = std::exchange(before_update, nullptr);
      hook();
    }
    if (!stored || stored->resource_version != record.resource_version) {
      return policy::fail("Conflict: the object has been modified");
    }
    return save(record);
  }

  std::optional<LeaseRecord> stored;
  bool unreachable = false;
  // Runs inside the next update, before it is judged: another replica's
  // write landing between this one's read and write.
  std::function<void()> before_update;

 private:
  LeaseRecord save(LeaseRecord record) {
    record.resource_version = std::to_string(++version_);
    stored = record;
    return record;
  }
  int version_ = 0;
};

const ElectionTiming kTiming{.lease_duration = 10s, .renew_deadline = 7s, .retry_period = 2s};

TEST(LeaderElection, TheFirstReplicaCreatesTheLeaseAndLeads) {
  MemoryLeaseStore store;
  LeaderElector a(store, "webhook-a", kTiming);
  EXPECT_TRUE(a.step(Clock::now()));
  ASSERT_TRUE(store.stored);
  EXPECT_EQ(store.stored->holder, "webhook-a");
  EXPECT_EQ(store.stored->duration_seconds, 10);
}

TEST(LeaderElection, ASecondReplicaDoesNotLeadWhileTheLeaderRenews) {
  MemoryLeaseStore store;
  LeaderElector a(store, "webhook-a", kTiming);
  LeaderElector b(store, "webhook-b", kTiming);
  const Clock::time_point start = Clock::now();
  for (auto t = 0s; t <= 60s; t += 2s) {
    EXPECT_TRUE(a.step(start + t));
    EXPECT_FALSE(b.step(start + t + 1s));
  }
  EXPECT_EQ(b.lastProblem(), "the lease is held by webhook-a");
}

TEST(LeaderElection, AReplicaTakesOverOnceADeadLeadersLeaseExpires) {
  MemoryLeaseStore store;
  LeaderElector a(store, "webhook-a", kTiming);
  LeaderElector b(store, "webhook-b", kTiming);
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(a.step(start));
  // a dies; b watches the unchanged lease from its first sight of it.
  EXPECT_FALSE(b.step(start + 1s));
  EXPECT_FALSE(b.step(start + 10s));
  EXPECT_TRUE(b.step(start + 11s));
  EXPECT_EQ(store.stored->holder, "webhook-b");
  EXPECT_EQ(store.stored->transitions, 1);
}

TEST(LeaderElection, ExpiryIsJudgedFromWhenTheLeaseWasSeenNotFromItsTimestamps) {
  MemoryLeaseStore store;
  store.stored = LeaseRecord{.holder = "webhook-a",
                             .duration_seconds = 10,
                             .acquire_time = "2001-01-01T00:00:00.000000Z",
                             .renew_time = "2001-01-01T00:00:00.000000Z",
                             .transitions = 0,
                             .resource_version = "7"};
  LeaderElector b(store, "webhook-b", kTiming);
  const Clock::time_point start = Clock::now();
  // A renewal time long past by b's wall clock does not make it expired: a's
  // clock may be wrong. b waits a full duration of seeing no change.
  EXPECT_FALSE(b.step(start));
  EXPECT_FALSE(b.step(start + 9s));
  EXPECT_TRUE(b.step(start + 10s));
}

TEST(LeaderElection, ALeaderThatCannotRenewStepsDownBeforeTheLeaseExpires) {
  MemoryLeaseStore store;
  LeaderElector a(store, "webhook-a", kTiming);
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(a.step(start));
  store.unreachable = true;
  EXPECT_TRUE(a.step(start + 2s));
  EXPECT_TRUE(a.step(start + 6s));
  EXPECT_FALSE(a.step(start + 7s));
  EXPECT_LT(kTiming.renew_deadline, kTiming.lease_duration);
  EXPECT_EQ(a.lastProblem(), "reading the lease: connection refused");
}

TEST(LeaderElection, OfTwoReplicasRacingForAnExpiredLeaseOnlyOneWins) {
  MemoryLeaseStore store;
  LeaderElector a(store, "webhook-a", kTiming);
  LeaderElector b(store, "webhook-b", kTiming);
  LeaderElector c(store, "webhook-c", kTiming);
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(a.step(start));
  EXPECT_FALSE(b.step(start + 1s));
  EXPECT_FALSE(c.step(start + 1s));
  // a is dead. b reads the expired lease, and c takes it before b writes.
  store.before_update = [&] { EXPECT_TRUE(c.step(start + 11s)); };
  EXPECT_FALSE(b.step(start + 11s));
  EXPECT_EQ(store.stored->holder, "webhook-c");
  EXPECT_TRUE(c.isLeader());
}

TEST(LeaderElection, AReleasedLeaseIsTakenAtOnce) {
  MemoryLeaseStore store;
  LeaderElector a(store, "webhook-a", kTiming);
  LeaderElector b(store, "webhook-b", kTiming);
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(a.step(start));
  EXPECT_FALSE(b.step(start + 1s));
  EXPECT_TRUE(a.release());
  EXPECT_FALSE(a.isLeader());
  EXPECT_TRUE(b.step(start + 2s));
}

TEST(LeaderElection, RenewalKeepsTheAcquireTimeAndTransitions) {
  MemoryLeaseStore store;
  LeaderElector a(store, "webhook-a", kTiming);
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(a.step(start));
  const LeaseRecord first = *store.stored;
  ASSERT_TRUE(a.step(start + 2s));
  EXPECT_EQ(store.stored->acquire_time, first.acquire_time);
  EXPECT_EQ(store.stored->transitions, first.transitions);
  EXPECT_NE(store.stored->resource_version, first.resource_version);
}

TEST(LeaderElection, MicroTimeIsRfc3339WithMicroseconds) {
  EXPECT_TRUE(std::regex_match(microTimeNow(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")));
}

}  // namespace
}  // namespace palisade::server
