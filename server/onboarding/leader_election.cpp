#include "server/onboarding/leader_election.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>
#include <utility>

namespace palisade::server {

LeaderElector::LeaderElector(LeaseStore& store, std::string identity, ElectionTiming timing)
    : store_(store), identity_(std::move(identity)), timing_(timing) {}

bool LeaderElector::step(Clock::time_point now) {
  if (tryAcquireOrRenew(now)) {
    leading_ = true;
    last_renewal_ = now;
    last_problem_.clear();
  } else if (leading_ && now - last_renewal_ >= timing_.renew_deadline) {
    // Others may take the lease once it expires for them; stop writing first.
    leading_ = false;
  }
  return leading_;
}

LeaseRecord LeaderElector::ourRecord(const std::optional<LeaseRecord>& current) const {
  LeaseRecord record;
  record.holder = identity_;
  record.duration_seconds = static_cast<int>(timing_.lease_duration.count());
  record.renew_time = microTimeNow();
  if (current && current->holder == identity_) {
    record.acquire_time = current->acquire_time;
    record.transitions = current->transitions;
  } else {
    record.acquire_time = record.renew_time;
    record.transitions = current ? current->transitions + 1 : 0;
  }
  record.resource_version = current ? current->resource_version : "";
  return record;
}

bool LeaderElector::tryAcquireOrRenew(Clock::time_point now) {
  policy::Result<std::optional<LeaseRecord>> current = store_.get();
  if (!current) {
    last_problem_ = "reading the lease: " + current.error().message;
    return false;
  }
  if (!*current) {
    policy::Result<LeaseRecord> created = store_.create(ourRecord(std::nullopt));
    if (!created) {
      last_problem_ = "creating the lease: " + created.error().message;
      return false;
    }
    observed_ = *created;
    observed_at_ = now;
    return true;
  }
  const LeaseRecord& seen = **current;
  if (!observed_ || observed_->resource_version != seen.resource_version) {
    observed_ = seen;
    observed_at_ = now;
  }
  const bool ours = seen.holder == identity_;
  const bool held = !seen.holder.empty() &&
                    now < observed_at_ + std::chrono::seconds(seen.duration_seconds);
  if (!ours && held) {
    last_problem_ = fmt::format("the lease is held by {}", seen.holder);
    return false;
  }
  policy::Result<LeaseRecord> updated = store_.update(ourRecord(seen));
  if (!updated) {
    last_problem_ = "updating the lease: " + updated.error().message;
    return false;
  }
  observed_ = *updated;
  observed_at_ = now;
  return true;
}

bool LeaderElector::release() {
  if (!leading_ || !observed_) {
    return false;
  }
  leading_ = false;
  LeaseRecord released = *observed_;
  released.holder.clear();
  released.duration_seconds = 1;
  released.renew_time = microTimeNow();
  policy::Result<LeaseRecord> updated = store_.update(released);
  if (!updated) {
    last_problem_ = "releasing the lease: " + updated.error().message;
    return false;
  }
  observed_ = *updated;
  return true;
}

std::string microTimeNow() {
  const auto since_epoch = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(since_epoch.count() / 1000000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:06d}Z", utc, since_epoch.count() % 1000000);
}

}  // namespace palisade::server
