#include "server/onboarding/api_lease_store.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "kube/resources.h"

namespace palisade::server {
namespace {

policy::Error asError(const kube::ApiError& error) {
  return policy::Error{error.describe()};
}

std::string stringAt(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : "";
}

int intAt(const nlohmann::json& object, const char* key) {
  const auto found = object.find(key);
  return found != object.end() && found->is_number_integer() ? found->get<int>() : 0;
}

}  // namespace

policy::Result<LeaseRecord> leaseRecordFromJson(const nlohmann::json& lease) {
  if (!lease.is_object() || !lease.contains("metadata") || !lease["metadata"].is_object()) {
    return policy::fail("a Lease without metadata");
  }
  static const nlohmann::json kNoSpec = nlohmann::json::object();
  const auto spec_it = lease.find("spec");
  const nlohmann::json& spec =
      spec_it != lease.end() && spec_it->is_object() ? *spec_it : kNoSpec;
  return LeaseRecord{.holder = stringAt(spec, "holderIdentity"),
                     .duration_seconds = intAt(spec, "leaseDurationSeconds"),
                     .acquire_time = stringAt(spec, "acquireTime"),
                     .renew_time = stringAt(spec, "renewTime"),
                     .transitions = intAt(spec, "leaseTransitions"),
                     .resource_version = stringAt(lease["metadata"], "resourceVersion")};
}

ApiLeaseStore::ApiLeaseStore(kube::ApiClient& client, std::string namespace_name, std::string name)
    : client_(client), namespace_(std::move(namespace_name)), name_(std::move(name)) {}

nlohmann::json ApiLeaseStore::toLease(const LeaseRecord& record) const {
  nlohmann::json metadata = {{"name", name_}, {"namespace", namespace_}};
  if (!record.resource_version.empty()) {
    metadata["resourceVersion"] = record.resource_version;
  }
  nlohmann::json spec = {{"leaseDurationSeconds", record.duration_seconds},
                         {"leaseTransitions", record.transitions}};
  if (!record.holder.empty()) {
    spec["holderIdentity"] = record.holder;
  }
  if (!record.acquire_time.empty()) {
    spec["acquireTime"] = record.acquire_time;
  }
  if (!record.renew_time.empty()) {
    spec["renewTime"] = record.renew_time;
  }
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)}};
}

policy::Result<std::optional<LeaseRecord>> ApiLeaseStore::get() {
  kube::ApiResult<nlohmann::json> lease = client_.get(kube::kLeases, namespace_, name_);
  if (!lease) {
    if (lease.error().isNotFound()) {
      return std::optional<LeaseRecord>();
    }
    return std::unexpected(asError(lease.error()));
  }
  policy::Result<LeaseRecord> record = leaseRecordFromJson(*lease);
  if (!record) {
    return std::unexpected(record.error());
  }
  return std::optional<LeaseRecord>(*std::move(record));
}

policy::Result<LeaseRecord> ApiLeaseStore::create(const LeaseRecord& record) {
  kube::ApiResult<nlohmann::json> created = client_.create(kube::kLeases, namespace_, toLease(record));
  if (!created) {
    return std::unexpected(asError(created.error()));
  }
  return leaseRecordFromJson(*created);
}

policy::Result<LeaseRecord> ApiLeaseStore::update(const LeaseRecord& record) {
  kube::ApiResult<kube::HttpResponse> answer =
      client_.request(boost::beast::http::verb::put,
                      kube::resourcePath(kube::kLeases, namespace_, name_), toLease(record).dump(),
                      "application/json");
  if (!answer) {
    return std::unexpected(asError(answer.error()));
  }
  if (answer->status < 200 || answer->status >= 300) {
    return std::unexpected(asError(kube::errorFromResponse(*answer, "PUT lease " + name_)));
  }
  const nlohmann::json lease = nlohmann::json::parse(answer->body, nullptr, false);
  if (lease.is_discarded()) {
    return policy::fail("the apiserver answered a Lease update with something not JSON");
  }
  return leaseRecordFromJson(lease);
}

}  // namespace palisade::server
