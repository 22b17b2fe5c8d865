#pragma once

// How to reach and authenticate to a kube-apiserver: from a kubeconfig file
// (development, palisadectl) or from the service account a pod runs as
// (in-cluster). Everything a file refers to is read at load time, except a
// token file, which is followed (see token_source.h). Errors name the file
// and the field: `kubeconfig /home/a/.kube/config: users[0].user.client-key:
// cannot read /home/a/.kube/a.key`.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "kube/token_source.h"
#include "policy/error.h"

namespace palisade::kube {

struct ClientConfig {
  std::string server{};       // "https://10.0.0.1:6443/prefix", as configured
  std::string host{};         // a DNS name or an IP address, without brackets
  uint16_t port = 443;
  std::string path_prefix{};  // "" or "/prefix" (an apiserver behind a path-routing proxy)
  // The name the server certificate must carry (and the SNI sent, for a DNS
  // name); defaults to `host`. kubeconfig's tls-server-name overrides it.
  std::string tls_server_name{};
  std::string ca_pem{};  // roots the server certificate must chain to; empty: the system's
  bool insecure_skip_tls_verify = false;
  std::string client_certificate_pem{};  // with client_key_pem, for client certificate auth
  std::string client_key_pem{};
  std::shared_ptr<TokenSource> token{};  // null: no bearer token
  std::string namespace_name{};          // the context's namespace, or the pod's own
  std::string origin{};                  // "kubeconfig /x/config, context dev" or "in-cluster"
};

struct KubeconfigOptions {
  std::string context{};  // empty: current-context
  // insecure-skip-tls-verify turns off server verification: anyone on the path
  // could then impersonate the apiserver. Refused unless the caller (a flag a
  // person set on purpose) allows it.
  bool allow_insecure_skip_tls_verify = false;
};

// Reads a kubeconfig (one file; no KUBECONFIG list merging). Relative paths in
// it are relative to the file's folder, as kubectl resolves them. Supported
// users: client-certificate(-data) + client-key(-data), token, tokenFile;
// exec, auth-provider and username/password are refused with the field named.
[[nodiscard]] policy::Result<ClientConfig> loadKubeconfig(const std::filesystem::path& file,
                                                          const KubeconfigOptions& options = {});

inline constexpr std::string_view kServiceAccountDir =
    "/var/run/secrets/kubernetes.io/serviceaccount";

struct InClusterOptions {
  std::filesystem::path service_account_dir{kServiceAccountDir};
  // Looks up an environment variable; unset: the process environment.
  std::function<std::optional<std::string>(const std::string&)> environment{};
};

// The configuration of a process in a pod: the apiserver at
// KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT, verified with the
// service account's ca.crt, authenticated with its token (re-read when the
// kubelet rotates it); the namespace file, when present, gives the default
// namespace.
[[nodiscard]] policy::Result<ClientConfig> loadInClusterConfig(
    const InClusterOptions& options = {});

// Parses "https://host[:port][/prefix]" into `config` (server, host, port,
// path_prefix, tls_server_name). Only https: Palisade never talks to the
// apiserver in clear text.
[[nodiscard]] policy::Result<void> parseServerUrl(std::string_view url, ClientConfig& config);

}  // namespace palisade::kube
