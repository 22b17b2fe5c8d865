// palisade-webhook: parses flags and wires the configuration, the TLS
// credentials, the admission webhook and the HTTPS server. All logic lives in
// the libraries the tests link.

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "certs/certificate_authority.h"
#include "server/api_connection.h"
#include "server/config_store.h"
#include "server/http/https_server.h"
#include "server/log.h"
#include "server/webhook.h"

namespace {

using namespace palisade;
using server::LogLevel;
using server::logEvent;

struct Options {
  std::string config_file;
  std::string tls_cert;
  std::string tls_key;
  std::string listen = "0.0.0.0:8443";
  std::string dev_certs;
  std::vector<std::string> dev_cert_names;
  unsigned threads = 0;
  size_t body_limit = server::ServerLimits{}.body_limit;
  size_t max_connections = server::ServerLimits{}.max_connections;
  double reload_seconds = 2.0;
  std::string log_level = "info";
  std::string kubeconfig;
  bool in_cluster = false;
  bool no_onboarding = false;
  std::string identity;
  std::string lease_name = "palisade-onboarding";
  int resync_seconds = 300;
};

// This replica's name in the onboarding Lease: the pod's name (the chart sets
// POD_NAME from the downward API), else the host's name and the process id.
std::string replicaIdentity(const Options& options) {
  if (!options.identity.empty()) {
    return options.identity;
  }
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') {
    return pod;
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return std::string(host) + "-" + std::to_string(::getpid());
}

// The API connection when one is asked for; null when not.
policy::Result<std::unique_ptr<server::ApiConnection>> connectToApi(
    const Options& options, const server::ConfigStore& store) {
  if (options.kubeconfig.empty() && !options.in_cluster) {
    return std::unique_ptr<server::ApiConnection>();
  }
  if (!options.kubeconfig.empty() && options.in_cluster) {
    return policy::fail("--kubeconfig and --in-cluster exclude each other");
  }
  server::ApiConnectionOptions api;
  if (!options.kubeconfig.empty()) {
    api.kubeconfig = options.kubeconfig;
  }
  api.in_cluster = options.in_cluster;
  api.onboarding = !options.no_onboarding;
  api.controller.identity = replicaIdentity(options);
  api.controller.lease_namespace = store.current()->palisade_namespace;
  api.controller.lease_name = options.lease_name;
  api.controller.resync_period = std::chrono::seconds(options.resync_seconds);
  return server::ApiConnection::create(std::move(api), store);
}

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

// "0.0.0.0:8443", "[::]:8443", "localhost:0".
std::optional<ListenAddress> parseListen(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    return std::nullopt;
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  try {
    size_t used = 0;
    const int port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || port < 0 || port > 65535 || host.empty()) {
      return std::nullopt;
    }
    return ListenAddress{host, static_cast<uint16_t>(port)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A throwaway CA and a certificate for this machine's loopback names, for
// development and demos; prints the caBundle a webhook configuration needs.
policy::Result<void> makeDevCertificates(const Options& options) {
  namespace fs = std::filesystem;
  const fs::path dir(options.dev_certs);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return policy::fail(dir.string() + ": " + ec.message());
  }
  auto ca = certs::makeCertificateAuthority("palisade-dev-ca", std::chrono::hours(24 * 7));
  if (!ca) {
    return std::unexpected(ca.error());
  }
  certs::ServingCertificateRequest request;
  request.common_name = "palisade-webhook";
  request.dns_names = {"localhost"};
  request.dns_names.insert(request.dns_names.end(), options.dev_cert_names.begin(),
                           options.dev_cert_names.end());
  request.ip_addresses = {"127.0.0.1", "::1"};
  request.validity = std::chrono::hours(24 * 7);
  auto leaf = certs::issueServingCertificate(*ca, request);
  if (!leaf) {
    return std::unexpected(leaf.error());
  }
  const auto owner_rw = fs::perms::owner_read | fs::perms::owner_write;
  const auto public_read = owner_rw | fs::perms::group_read | fs::perms::others_read;
  for (const auto& [name, contents, perms] :
       {std::tuple{"ca.crt", ca->certificate_pem, public_read},
        std::tuple{"tls.crt", leaf->certificate_pem + ca->certificate_pem, public_read},
        std::tuple{"tls.key", leaf->private_key_pem, owner_rw}}) {
    if (auto written = certs::writeFileAtomically(dir / name, contents, perms); !written) {
      return written;
    }
  }
  std::cout << "caBundle: " << certs::caBundle(*ca) << std::endl;
  return {};
}

std::optional<LogLevel> parseLogLevel(const std::string& text) {
  if (text == "debug") {
    return LogLevel::kDebug;
  }
  if (text == "info") {
    return LogLevel::kInfo;
  }
  if (text == "warn") {
    return LogLevel::kWarn;
  }
  if (text == "error") {
    return LogLevel::kError;
  }
  return std::nullopt;
}

int serve(Options options) {
  const std::optional<ListenAddress> listen = parseListen(options.listen);
  if (!listen) {
    std::cerr << "palisade-webhook: --listen: expected ADDRESS:PORT, got \"" << options.listen
              << "\"\n";
    return 2;
  }
  if (!options.dev_certs.empty()) {
    if (auto made = makeDevCertificates(options); !made) {
      std::cerr << "palisade-webhook: --dev-certs: " << made.error().message << "\n";
      return 1;
    }
    options.tls_cert = (std::filesystem::path(options.dev_certs) / "tls.crt").string();
    options.tls_key = (std::filesystem::path(options.dev_certs) / "tls.key").string();
  }
  if (options.tls_cert.empty() || options.tls_key.empty()) {
    std::cerr << "palisade-webhook: --tls-cert and --tls-key are required (or --dev-certs DIR)\n";
    return 2;
  }

  std::shared_ptr<const policy::Config> config;
  if (options.config_file.empty()) {
    config = std::make_shared<const policy::Config>(policy::defaultConfig());
    logEvent(LogLevel::kInfo, "no --config given: using the built-in default configuration");
  } else {
    auto loaded = server::loadConfigFile(options.config_file);
    if (!loaded) {
      std::cerr << "palisade-webhook: --config: " << loaded.error().message << "\n";
      return 1;
    }
    config = std::move(*loaded);
  }
  server::ConfigStore store(config);

  auto credentials = server::TlsCredentials::load(options.tls_cert, options.tls_key);
  if (!credentials) {
    std::cerr << "palisade-webhook: " << credentials.error().message << "\n";
    return 1;
  }

  server::metrics::Registry registry;
  auto& config_reloads = registry.counter(
      "palisade_config_reloads_total", "Configuration file reloads, by result.", {"result"});
  auto& certificate_reloads =
      registry.counter("palisade_tls_certificate_reloads_total",
                       "Serving certificate reloads, by result.", {"result"});
  auto api = connectToApi(options, store);
  if (!api) {
    std::cerr << "palisade-webhook: " << api.error().message << "\n";
    return 1;
  }
  const server::ClusterView* cluster = *api ? &(*api)->view() : nullptr;
  const server::Webhook webhook(store, cluster, credentials->get(), registry);

  server::ServerLimits limits;
  limits.threads = options.threads;
  limits.body_limit = options.body_limit;
  limits.max_connections = options.max_connections;
  server::HttpsServer https(limits, **credentials,
                            [&webhook](const server::HttpRequest& request) {
                              return webhook.handle(request);
                            },
                            registry);
  if (auto listening = https.listen(listen->host, listen->port); !listening) {
    std::cerr << "palisade-webhook: " << listening.error().message << "\n";
    return 1;
  }

  std::optional<server::ConfigFileWatcher> watcher;
  if (!options.config_file.empty()) {
    watcher.emplace(options.config_file, store);
  }
  const auto interval = std::chrono::milliseconds(static_cast<long>(options.reload_seconds * 1000));
  https.every(interval, [&] {
    std::string error;
    switch ((*credentials)->reloadIfChanged(&error)) {
      case server::TlsCredentials::Reload::kReloaded:
        certificate_reloads.with({"success"}).inc();
        logEvent(LogLevel::kInfo, "serving certificate reloaded");
        break;
      case server::TlsCredentials::Reload::kFailed:
        certificate_reloads.with({"failure"}).inc();
        logEvent(LogLevel::kError, "serving certificate reload failed; keeping the current one",
                 {{"reason", error}});
        break;
      case server::TlsCredentials::Reload::kUnchanged:
        break;
    }
    if (!watcher) {
      return;
    }
    switch (watcher->poll(&error)) {
      case server::ConfigFileWatcher::Poll::kReloaded:
        config_reloads.with({"success"}).inc();
        logEvent(LogLevel::kInfo, "configuration reloaded", {{"file", options.config_file}});
        break;
      case server::ConfigFileWatcher::Poll::kFailed:
        config_reloads.with({"failure"}).inc();
        logEvent(LogLevel::kError, "configuration reload failed; keeping the last good one",
                 {{"file", options.config_file}, {"reason", error}});
        break;
      case server::ConfigFileWatcher::Poll::kUnchanged:
        break;
    }
  });
  // Decision lines are batched (server/log.h); they reach the log this often.
  https.every(server::kLogBatchInterval, [] { server::flushLogs(); });
  if (*api) {
    (*api)->start();
    logEvent(LogLevel::kInfo, "watching the kube-apiserver",
             {{"source", (*api)->origin()}, {"onboarding", !options.no_onboarding}});
  } else {
    logEvent(LogLevel::kInfo,
             "no API connection (--kubeconfig or --in-cluster): no label inheritance from "
             "namespaces, no coverage gate, no onboarding");
  }
  https.shutdownOnSignals({SIGTERM, SIGINT});
  logEvent(LogLevel::kInfo, "listening",
           {{"address", listen->host},
            {"port", https.port()},
            {"threads", options.threads != 0 ? options.threads
                                             : std::max(1u, std::thread::hardware_concurrency())}});
  https.run();
  if (*api) {
    (*api)->stop();
  }
  logEvent(LogLevel::kInfo, "stopped: in-flight requests answered");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "palisade-webhook: the admission webhook that gives namespaces and pods a conforming label "
      "taxonomy, marks namespaces for default-deny onboarding and validates NetworkPolicies."};
  Options options;
  app.add_option("--config", options.config_file, "Configuration file (YAML); reloaded on change")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", options.tls_cert, "Serving certificate chain (PEM); reloaded on change");
  app.add_option("--tls-key", options.tls_key, "Serving private key (PEM); reloaded on change");
  app.add_option("--listen", options.listen, "ADDRESS:PORT to listen on")->capture_default_str();
  app.add_option("--dev-certs", options.dev_certs,
                 "Make a throwaway CA and a certificate for localhost in DIR, print the caBundle, "
                 "and serve with them (development only)");
  app.add_option("--dev-cert-name", options.dev_cert_names,
                 "Extra DNS name for the --dev-certs certificate (repeatable)");
  app.add_option("--threads", options.threads, "I/O threads (0: one per core)")
      ->capture_default_str();
  app.add_option("--body-limit", options.body_limit, "Largest request body accepted, in bytes")
      ->capture_default_str();
  app.add_option("--max-connections", options.max_connections,
                 "Connections served at once; more wait to be accepted")
      ->capture_default_str();
  app.add_option("--reload-interval", options.reload_seconds,
                 "Seconds between checks of the certificate and configuration files")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--log-level", options.log_level, "debug, info, warn or error")
      ->capture_default_str();
  app.add_option("--kubeconfig", options.kubeconfig,
                 "Connect to the kube-apiserver with this kubeconfig (namespace labels, the "
                 "coverage gate, onboarding)")
      ->check(CLI::ExistingFile);
  app.add_flag("--in-cluster", options.in_cluster,
               "Connect to the kube-apiserver as the pod's service account");
  app.add_flag("--no-onboarding", options.no_onboarding,
               "Do not run the onboarding controller (admission only)");
  app.add_option("--identity", options.identity,
                 "This replica's name in the onboarding Lease (default: $POD_NAME, else "
                 "host-pid)");
  app.add_option("--lease-name", options.lease_name,
                 "The onboarding Lease, in Palisade's namespace")
      ->capture_default_str();
  app.add_option("--resync-period", options.resync_seconds,
                 "Seconds between full onboarding passes over every namespace")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const auto level = parseLogLevel(options.log_level);
  if (!level) {
    std::cerr << "palisade-webhook: --log-level: expected debug, info, warn or error\n";
    return 2;
  }
  server::setLogLevel(*level);
  return serve(std::move(options));
}
