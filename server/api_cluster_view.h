#pragma once

// What the admission decisions know of the cluster, from the informers'
// caches of namespaces and NetworkPolicies (kept current by watches on the
// kube-apiserver).

#include "kube/informer.h"
#include "server/admission/controller.h"

namespace palisade::server {

// Thread-safe, as the informers are.
class InformerClusterView : public ClusterView {
 public:
  // Both informers must outlive the view.
  InformerClusterView(const kube::Informer<policy::Namespace>& namespaces,
                      const kube::Informer<policy::NetworkPolicy>& policies);

  std::optional<policy::Labels> namespaceLabels(std::string_view namespace_name) const override;
  Policies namespacePolicies(std::string_view namespace_name) const override;
  bool hasSynced() const override;

 private:
  const kube::Informer<policy::Namespace>& namespaces_;
  const kube::Informer<policy::NetworkPolicy>& policies_;
};

}  // namespace palisade::server
