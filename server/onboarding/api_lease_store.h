#pragma once

// The election's Lease in the kube-apiserver (coordination.k8s.io/v1).

#include <string>

#include "kube/api_client.h"
#include "server/onboarding/leader_election.h"

namespace palisade::server {

class ApiLeaseStore : public LeaseStore {
 public:
  // `client` must outlive the store.
  ApiLeaseStore(kube::ApiClient& client, std::string namespace_name, std::string name);

  policy::Result<std::optional<LeaseRecord>> get() override;
  policy::Result<LeaseRecord> create(const LeaseRecord& record) override;
  // A PUT carrying the record's resourceVersion: the apiserver refuses it
  // with 409 Conflict if the lease changed since it was read.
  policy::Result<LeaseRecord> update(const LeaseRecord& record) override;

 private:
  nlohmann::json toLease(const LeaseRecord& record) const;

  kube::ApiClient& client_;
  std::string namespace_;
  std::string name_;
};

// A Lease object's election fields; missing ones are empty or zero, as the
// API omits empty fields.
policy::Result<LeaseRecord> leaseRecordFromJson(const nlohmann::json& lease);

}  // namespace palisade::server
