#include "server/api_connection.h"

#include <utility>

#include "kube/kubeconfig.h"
#include "server/log.h"

namespace palisade::server {
namespace {

kube::InformerOptions sharing(const std::shared_ptr<kube::ChangeNotifier>& changes) {
  kube::InformerOptions options;
  options.notifier = changes;
  return options;
}

kube::InformerHandlers<policy::Namespace> namespaceHandlers() {
  kube::InformerHandlers<policy::Namespace> handlers;
  handlers.on_error = [](const std::string& problem) {
    logEvent(LogLevel::kWarn, "namespace watch", {{"reason", problem}});
  };
  return handlers;
}

kube::InformerHandlers<policy::NetworkPolicy> policyHandlers() {
  kube::InformerHandlers<policy::NetworkPolicy> handlers;
  handlers.on_error = [](const std::string& problem) {
    logEvent(LogLevel::kWarn, "NetworkPolicy watch", {{"reason", problem}});
  };
  return handlers;
}

}  // namespace

policy::Result<std::unique_ptr<ApiConnection>> ApiConnection::create(
    ApiConnectionOptions options, const ConfigStore& config) {
  if (options.kubeconfig.has_value() == options.in_cluster) {
    return policy::fail("give either a kubeconfig or in-cluster configuration");
  }
  policy::Result<kube::ClientConfig> client_config =
      options.in_cluster ? kube::loadInClusterConfig() : kube::loadKubeconfig(*options.kubeconfig);
  if (!client_config) {
    return std::unexpected(client_config.error());
  }
  policy::Result<std::unique_ptr<kube::ApiClient>> client =
      kube::ApiClient::fromConfig(*std::move(client_config));
  if (!client) {
    return std::unexpected(client.error());
  }
  return std::unique_ptr<ApiConnection>(
      new ApiConnection(*std::move(client), std::move(options), config));
}

ApiConnection::ApiConnection(std::unique_ptr<kube::ApiClient> client,
                             ApiConnectionOptions options, const ConfigStore& config)
    : options_(std::move(options)),
      client_(std::move(client)),
      changes_(std::make_shared<kube::ChangeNotifier>()),
      namespaces_(*client_, sharing(changes_), namespaceHandlers()),
      policies_(*client_, sharing(changes_), policyHandlers()),
      view_(namespaces_, policies_) {
  if (options_.onboarding) {
    if (!options_.controller.log) {
      options_.controller.log = [](const std::string& event, const std::string& detail) {
        logEvent(LogLevel::kInfo, event, {{"detail", detail}});
      };
    }
    controller_ = std::make_unique<OnboardingController>(*client_, namespaces_, policies_,
                                                         *changes_, config, options_.controller);
  }
}

ApiConnection::~ApiConnection() { stop(); }

void ApiConnection::start() {
  namespaces_.start();
  policies_.start();
  if (controller_) {
    controller_->start();
  }
}

void ApiConnection::stop() {
  if (controller_) {
    controller_->stop();
  }
  namespaces_.stop();
  policies_.stop();
}

const std::string& ApiConnection::origin() const { return client_->config().origin; }

}  // namespace palisade::server
