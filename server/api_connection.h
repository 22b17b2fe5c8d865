#pragma once

// palisade-webhook's connection to the kube-apiserver: the client, the
// watch-fed caches of namespaces and NetworkPolicies that admission reads
// (namespace labels to inherit, policies for the coverage gate), and the
// onboarding controller that writes managed policies when this replica
// leads.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "kube/api_client.h"
#include "kube/change_notifier.h"
#include "kube/informer.h"
#include "server/api_cluster_view.h"
#include "server/config_store.h"
#include "server/onboarding/onboarding_controller.h"

namespace palisade::server {

struct ApiConnectionOptions {
  // Exactly one source: a kubeconfig file, or the pod's service account.
  std::optional<std::filesystem::path> kubeconfig;
  bool in_cluster = false;
  bool onboarding = true;
  OnboardingControllerOptions controller;
};

class ApiConnection {
 public:
  // Connects nothing yet: reads the client configuration only, so that a
  // wrong kubeconfig is an error at startup.
  [[nodiscard]] static policy::Result<std::unique_ptr<ApiConnection>> create(
      ApiConnectionOptions options, const ConfigStore& config);
  ~ApiConnection();
  ApiConnection(const ApiConnection&) = delete;
  ApiConnection& operator=(const ApiConnection&) = delete;

  // Starts the informers and, if enabled, the onboarding controller.
  void start();
  // Stops the controller first (releasing its Lease), then the informers.
  void stop();

  const ClusterView& view() const { return view_; }
  const std::string& origin() const;

 private:
  ApiConnection(std::unique_ptr<kube::ApiClient> client, ApiConnectionOptions options,
                const ConfigStore& config);

  ApiConnectionOptions options_;
  std::unique_ptr<kube::ApiClient> client_;
  std::shared_ptr<kube::ChangeNotifier> changes_;
  kube::Informer<policy::Namespace> namespaces_;
  kube::Informer<policy::NetworkPolicy> policies_;
  InformerClusterView view_;
  std::unique_ptr<OnboardingController> controller_;
};

}  // namespace palisade::server
