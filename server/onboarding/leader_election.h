#pragma once

// One writer among several webhook replicas: a coordination.k8s.io/v1 Lease
// that the leader renews and the others take over once it has gone unrenewed
// for its duration. The others still serve admission; only the onboarding
// controller waits for leadership.
//
// Expiry is judged by the local steady clock from the moment a replica last
// saw the lease change, never by comparing the timestamps written in it with
// the local wall clock: replicas' clocks may disagree, their rates do not
// (much).

#include <chrono>
#include <optional>
#include <string>

#include "policy/error.h"

namespace palisade::server {

// The fields of a Lease that election uses. Timestamps are RFC 3339 with
// microseconds (MicroTime), as the API stores them.
struct LeaseRecord {
  std::string holder;  // spec.holderIdentity; empty when released
  int duration_seconds = 0;
  std::string acquire_time;
  std::string renew_time;
  int transitions = 0;
  std::string resource_version;  // metadata.resourceVersion; empty before creation
};

// Where the lease lives: the apiserver, or memory in tests. update() must
// fail when the record's resource_version is not the stored one (the
// apiserver answers 409 Conflict), which is what makes two replicas unable to
// both win.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // nullopt when no lease exists yet.
  [[nodiscard]] virtual policy::Result<std::optional<LeaseRecord>> get() = 0;
  [[nodiscard]] virtual policy::Result<LeaseRecord> create(const LeaseRecord& record) = 0;
  [[nodiscard]] virtual policy::Result<LeaseRecord> update(const LeaseRecord& record) = 0;
};

struct ElectionTiming {
  // How long a lease holds without renewal; a dead leader's successor starts
  // at most this long (plus one retry) after its last renewal.
  std::chrono::seconds lease_duration{10};
  // A leader that has not renewed for this long stops acting as leader, before
  // the lease can expire for the others.
  std::chrono::seconds renew_deadline{7};
  // Between attempts to acquire or renew.
  std::chrono::milliseconds retry_period{2000};
};

// Not thread-safe: one thread drives it (see OnboardingController).
class LeaderElector {
 public:
  using Clock = std::chrono::steady_clock;

  LeaderElector(LeaseStore& store, std::string identity, ElectionTiming timing = {});

  // One attempt to acquire or renew, at `now`. Returns whether this replica
  // leads after it. A failed renewal keeps leadership until renew_deadline has
  // passed since the last successful one.
  bool step(Clock::time_point now);

  // Gives the lease up (empty holder, 1-second duration) so a successor need
  // not wait for expiry; for a clean shutdown. Returns whether it was released.
  bool release();

  bool isLeader() const { return leading_; }
  const std::string& identity() const { return identity_; }
  const ElectionTiming& timing() const { return timing_; }
  // Why the last step did not lead or renew, for logs; empty otherwise.
  const std::string& lastProblem() const { return last_problem_; }

 private:
  bool tryAcquireOrRenew(Clock::time_point now);
  LeaseRecord ourRecord(const std::optional<LeaseRecord>& current) const;

  LeaseStore& store_;
  std::string identity_;
  ElectionTiming timing_;
  bool leading_ = false;
  Clock::time_point last_renewal_{};
  // The record as last seen and when it was first seen in that version.
  std::optional<LeaseRecord> observed_;
  Clock::time_point observed_at_{};
  std::string last_problem_;
};

// Now, as a Lease's MicroTime: "2026-11-26T08:30:19.123456Z".
std::string microTimeNow();

}  // namespace palisade::server
