#include "server/api_cluster_view.h"

#include <memory>
#include <vector>

namespace palisade::server {

InformerClusterView::InformerClusterView(const kube::Informer<policy::Namespace>& namespaces,
                                         const kube::Informer<policy::NetworkPolicy>& policies)
    : namespaces_(namespaces), policies_(policies) {}

std::optional<policy::Labels> InformerClusterView::namespaceLabels(
    std::string_view namespace_name) const {
  if (!namespaces_.hasSynced()) {
    return std::nullopt;
  }
  const auto ns = namespaces_.get("", namespace_name);
  if (!ns) {
    return std::nullopt;
  }
  return ns->metadata.labels;
}

ClusterView::Policies InformerClusterView::namespacePolicies(
    std::string_view namespace_name) const {
  if (!policies_.hasSynced()) {
    return nullptr;
  }
  auto copies = std::make_shared<std::vector<policy::NetworkPolicy>>();
  for (const auto& present : policies_.list(namespace_name)) {
    copies->push_back(*present);
  }
  return copies;
}

bool InformerClusterView::hasSynced() const {
  return namespaces_.hasSynced() && policies_.hasSynced();
}

}  // namespace palisade::server
