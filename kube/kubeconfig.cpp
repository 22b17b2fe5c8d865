#include "kube/kubeconfig.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

namespace palisade::kube {
namespace {

std::optional<std::string> readWholeFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) {
    return std::nullopt;
  }
  return contents.str();
}

std::string trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

// Standard base64 as Go's encoding/json decodes []byte fields; whitespace (a
// value wrapped over lines) is skipped, padding is optional.
std::optional<std::string> base64Decode(std::string_view text) {
  std::string out;
  uint32_t accumulator = 0;
  int bits = 0;
  bool padding = false;
  for (const char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') {
      value = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      value = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      value = c - '0' + 52;
    } else if (c == '+') {
      value = 62;
    } else if (c == '/') {
      value = 63;
    } else if (c == '=') {
      padding = true;
      continue;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      return std::nullopt;
    }
    if (padding) {
      return std::nullopt;  // data after padding
    }
    accumulator = (accumulator << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  if (bits >= 6) {
    return std::nullopt;  // a lone trailing character cannot encode a byte
  }
  return out;
}

// OpenSSL keeps a per-thread error queue; a failed parse leaves entries that
// would otherwise be blamed on a later, unrelated call.
void clearOpenSslErrors() { ERR_clear_error(); }

int countCertificates(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  int count = 0;
  while (X509* certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_free(certificate);
    ++count;
  }
  BIO_free(bio);
  clearOpenSslErrors();
  return count;
}

bool isPrivateKey(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  clearOpenSslErrors();
  if (key == nullptr) {
    return false;
  }
  EVP_PKEY_free(key);
  return true;
}

bool keyMatchesCertificate(const std::string& certificate_pem, const std::string& key_pem) {
  BIO* certificate_bio = BIO_new_mem_buf(certificate_pem.data(),
                                         static_cast<int>(certificate_pem.size()));
  X509* certificate = PEM_read_bio_X509(certificate_bio, nullptr, nullptr, nullptr);
  BIO_free(certificate_bio);
  BIO* key_bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  BIO_free(key_bio);
  const bool matches =
      certificate != nullptr && key != nullptr && X509_check_private_key(certificate, key) == 1;
  X509_free(certificate);
  EVP_PKEY_free(key);
  clearOpenSslErrors();
  return matches;
}

// Reads one kubeconfig; every error names the file and the field path.
class KubeconfigReader {
 public:
  KubeconfigReader(const std::filesystem::path& file, const KubeconfigOptions& options)
      : file_(file), folder_(file.parent_path()), options_(options),
        origin_("kubeconfig " + file.string()) {}

  policy::Result<ClientConfig> read() {
    const auto text = readWholeFile(file_);
    if (!text) {
      return policy::fail(origin_ + ": cannot read the file");
    }
    YAML::Node root;
    try {
      root = YAML::Load(*text);
    } catch (const YAML::Exception& e) {
      return policy::fail(origin_ + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                          std::to_string(e.mark.column + 1) + ": " + e.msg);
    }
    try {
      return readConfig(root);
    } catch (const YAML::Exception& e) {
      // Conversions are checked before they are made; this is the backstop.
      return policy::fail(origin_ + ": " + e.what());
    }
  }

 private:
  std::unexpected<policy::Error> fail(const std::string& field, const std::string& message) const {
    return policy::fail(origin_ + ": " + field + ": " + message);
  }

  // A string field; "" when absent or null.
  policy::Result<std::string> stringField(const YAML::Node& map, const std::string& key,
                                          const std::string& path) const {
    const YAML::Node value = map[key];
    if (!value.IsDefined() || value.IsNull()) {
      return std::string();
    }
    if (!value.IsScalar()) {
      return fail(path + key, "expected a string");
    }
    return value.Scalar();
  }

  policy::Result<bool> boolField(const YAML::Node& map, const std::string& key,
                                 const std::string& path) const {
    const YAML::Node value = map[key];
    if (!value.IsDefined() || value.IsNull()) {
      return false;
    }
    bool result = false;
    if (!value.IsScalar() || !YAML::convert<bool>::decode(value, result)) {
      return fail(path + key, "expected true or false");
    }
    return result;
  }

  // The entry of a named list (clusters, contexts, users) called `name`:
  // its inner map (`cluster:`, `context:`, `user:`), and that map's path.
  struct Entry {
    YAML::Node body;
    std::string path;  // "clusters[1].cluster."
  };
  policy::Result<Entry> findNamed(const YAML::Node& root, const std::string& list,
                                  const std::string& body_key, const std::string& name,
                                  const std::string& wanted_by) const {
    const YAML::Node entries = root[list];
    if (entries.IsDefined() && !entries.IsNull() && !entries.IsSequence()) {
      return fail(list, "expected a list");
    }
    if (entries.IsSequence()) {
      for (size_t i = 0; i < entries.size(); ++i) {
        const std::string path = list + "[" + std::to_string(i) + "]";
        const YAML::Node entry = entries[i];
        if (!entry.IsMap()) {
          return fail(path, "expected a map with name and " + body_key);
        }
        auto entry_name = stringField(entry, "name", path + ".");
        if (!entry_name) {
          return std::unexpected(entry_name.error());
        }
        if (*entry_name != name) {
          continue;
        }
        const YAML::Node body = entry[body_key];
        if (body.IsDefined() && !body.IsNull() && !body.IsMap()) {
          return fail(path + "." + body_key, "expected a map");
        }
        return Entry{body.IsMap() ? body : YAML::Node(YAML::NodeType::Map),
                     path + "." + body_key + "."};
      }
    }
    return fail(list, "no entry named \"" + name + "\" (" + wanted_by + " refers to it)");
  }

  // The contents of `file_key` (a path, relative to the kubeconfig's folder)
  // or of `data_key` (base64), at most one of them; empty when neither is set.
  struct Contents {
    std::string text;
    std::string field;  // the path of the key it came from
    bool empty() const { return text.empty(); }
  };
  policy::Result<Contents> fileOrData(const YAML::Node& map, const std::string& path,
                                         const std::string& file_key,
                                         const std::string& data_key) const {
    auto file = stringField(map, file_key, path);
    if (!file) {
      return std::unexpected(file.error());
    }
    auto data = stringField(map, data_key, path);
    if (!data) {
      return std::unexpected(data.error());
    }
    if (!file->empty() && !data->empty()) {
      return fail(path + data_key, "both " + file_key + " and " + data_key + " are set: keep one");
    }
    if (!data->empty()) {
      auto decoded = base64Decode(*data);
      if (!decoded) {
        return fail(path + data_key, "not valid base64");
      }
      return Contents{*decoded, path + data_key};
    }
    if (!file->empty()) {
      const std::filesystem::path resolved = resolve(*file);
      auto contents = readWholeFile(resolved);
      if (!contents) {
        return fail(path + file_key, "cannot read " + resolved.string());
      }
      return Contents{*contents, path + file_key};
    }
    return Contents{};
  }

  std::filesystem::path resolve(const std::string& file) const {
    const std::filesystem::path path(file);
    return path.is_absolute() ? path : folder_ / path;
  }

  policy::Result<ClientConfig> readConfig(const YAML::Node& root) {
    if (!root.IsMap()) {
      return policy::fail(origin_ + ": expected a map (apiVersion: v1, kind: Config)");
    }
    ClientConfig config;
    std::string context_name = options_.context;
    if (context_name.empty()) {
      auto current = stringField(root, "current-context", "");
      if (!current) {
        return std::unexpected(current.error());
      }
      if (current->empty()) {
        return fail("current-context", "not set, and no context was asked for");
      }
      context_name = *current;
    }
    origin_ += ", context " + context_name;
    config.origin = origin_;

    auto context =
        findNamed(root, "contexts", "context", context_name,
                  options_.context.empty() ? "current-context" : "the context asked for");
    if (!context) {
      return std::unexpected(context.error());
    }
    auto cluster_name = stringField(context->body, "cluster", context->path);
    auto user_name = stringField(context->body, "user", context->path);
    auto namespace_name = stringField(context->body, "namespace", context->path);
    for (const auto* field : {&cluster_name, &user_name, &namespace_name}) {
      if (!*field) {
        return std::unexpected(field->error());
      }
    }
    if (cluster_name->empty()) {
      return fail(context->path + "cluster", "missing");
    }
    if (user_name->empty()) {
      return fail(context->path + "user", "missing");
    }
    config.namespace_name = *namespace_name;

    auto cluster = findNamed(root, "clusters", "cluster", *cluster_name, context->path + "cluster");
    if (!cluster) {
      return std::unexpected(cluster.error());
    }
    if (auto result = readCluster(*cluster, config); !result) {
      return std::unexpected(result.error());
    }
    auto user = findNamed(root, "users", "user", *user_name, context->path + "user");
    if (!user) {
      return std::unexpected(user.error());
    }
    if (auto result = readUser(*user, config); !result) {
      return std::unexpected(result.error());
    }
    return config;
  }

  policy::Result<void> readCluster(const Entry& cluster, ClientConfig& config) const {
    const std::string& path = cluster.path;
    auto server = stringField(cluster.body, "server", path);
    if (!server) {
      return std::unexpected(server.error());
    }
    if (server->empty()) {
      return fail(path + "server", "missing");
    }
    if (auto parsed = parseServerUrl(*server, config); !parsed) {
      return fail(path + "server", parsed.error().message);
    }
    if (auto proxy = stringField(cluster.body, "proxy-url", path); !proxy || !proxy->empty()) {
      return fail(path + "proxy-url", "not supported by Palisade's client");
    }
    auto server_name = stringField(cluster.body, "tls-server-name", path);
    if (!server_name) {
      return std::unexpected(server_name.error());
    }
    if (!server_name->empty()) {
      config.tls_server_name = *server_name;
    }
    auto ca = fileOrData(cluster.body, path, "certificate-authority", "certificate-authority-data");
    if (!ca) {
      return std::unexpected(ca.error());
    }
    if (!ca->empty() && countCertificates(ca->text) == 0) {
      return fail(ca->field, "no PEM certificate in it");
    }
    config.ca_pem = ca->text;
    auto insecure = boolField(cluster.body, "insecure-skip-tls-verify", path);
    if (!insecure) {
      return std::unexpected(insecure.error());
    }
    if (*insecure) {
      if (!config.ca_pem.empty()) {
        return fail(path + "insecure-skip-tls-verify",
                    "set together with a certificate authority: keep one");
      }
      if (!options_.allow_insecure_skip_tls_verify) {
        return fail(path + "insecure-skip-tls-verify",
                    "refused: it turns off verification of the apiserver's certificate (allow "
                    "it explicitly only for a throwaway development cluster)");
      }
      config.insecure_skip_tls_verify = true;
    }
    return {};
  }

  policy::Result<void> readUser(const Entry& user, ClientConfig& config) const {
    const std::string& path = user.path;
    // Silently ignoring any of these would talk to the apiserver as someone
    // else than the kubeconfig says.
    for (const char* unsupported : {"exec", "auth-provider", "username", "password", "as",
                                    "as-uid", "as-groups", "as-user-extra"}) {
      const YAML::Node value = user.body[unsupported];
      if (value.IsDefined() && !value.IsNull()) {
        return fail(path + unsupported,
                    "not supported by Palisade's client (use client-certificate and client-key, "
                    "token or tokenFile)");
      }
    }
    auto certificate = fileOrData(user.body, path, "client-certificate", "client-certificate-data");
    if (!certificate) {
      return std::unexpected(certificate.error());
    }
    auto key = fileOrData(user.body, path, "client-key", "client-key-data");
    if (!key) {
      return std::unexpected(key.error());
    }
    if (!certificate->empty() || !key->empty()) {
      if (key->empty()) {
        return fail(path + "client-key", "missing: client-certificate needs a key "
                                         "(client-key or client-key-data)");
      }
      if (certificate->empty()) {
        return fail(path + "client-certificate",
                    "missing: client-key needs a certificate (client-certificate or "
                    "client-certificate-data)");
      }
      if (countCertificates(certificate->text) == 0) {
        return fail(certificate->field, "no PEM certificate in it");
      }
      if (!isPrivateKey(key->text)) {
        return fail(key->field, "no PEM private key in it");
      }
      if (!keyMatchesCertificate(certificate->text, key->text)) {
        return fail(key->field, "does not match the client certificate");
      }
      config.client_certificate_pem = certificate->text;
      config.client_key_pem = key->text;
    }
    auto token = stringField(user.body, "token", path);
    if (!token) {
      return std::unexpected(token.error());
    }
    auto token_file = stringField(user.body, "tokenFile", path);
    if (!token_file) {
      return std::unexpected(token_file.error());
    }
    if (!token->empty() && !token_file->empty()) {
      return fail(path + "tokenFile", "both token and tokenFile are set: keep one");
    }
    if (!token->empty()) {
      config.token = TokenSource::fixed(*token);
    } else if (!token_file->empty()) {
      auto source =
          TokenSource::fromFile(resolve(*token_file), origin_ + ": " + path + "tokenFile");
      if (!source) {
        return std::unexpected(source.error());
      }
      config.token = *source;
    }
    return {};
  }

  std::filesystem::path file_;
  std::filesystem::path folder_;
  KubeconfigOptions options_;
  std::string origin_;
};

std::optional<std::string> processEnvironment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

}  // namespace

policy::Result<void> parseServerUrl(std::string_view url, ClientConfig& config) {
  const std::string quoted = "\"" + std::string(url) + "\"";
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) {
    return policy::fail(quoted + ": expected https://host[:port][/path]; Palisade talks to the "
                        "apiserver over TLS only");
  }
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string prefix(slash == std::string_view::npos ? std::string_view() : rest.substr(slash));
  if (prefix.find_first_of("?#") != std::string::npos) {
    return policy::fail(quoted + ": a query or fragment has no meaning in a server address");
  }
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.pop_back();
  }
  if (authority.find('@') != std::string_view::npos) {
    return policy::fail(quoted + ": credentials in the address are not supported");
  }
  std::string_view host;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return policy::fail(quoted + ": unterminated [ in an IPv6 address");
    }
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        return policy::fail(quoted + ": expected :port after the IPv6 address");
      }
      port_text = after.substr(1);
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) {
      return policy::fail(quoted + ": not an IPv6 address between [ and ]");
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return policy::fail(quoted + ": an IPv6 address must be written in brackets, [::1]:6443");
    }
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (host.empty()) {
    return policy::fail(quoted + ": no host");
  }
  uint16_t port = 443;
  if (!port_text.empty() || authority.ends_with(':')) {
    int value = 0;
    for (const char c : port_text) {
      if (c < '0' || c > '9' || value > 65535) {
        value = -1;
        break;
      }
      value = value * 10 + (c - '0');
    }
    if (port_text.empty() || value <= 0 || value > 65535) {
      return policy::fail(quoted + ": the port must be a number from 1 to 65535");
    }
    port = static_cast<uint16_t>(value);
  }
  config.server = std::string(url);
  config.host = std::string(host);
  config.port = port;
  config.path_prefix = prefix;
  config.tls_server_name = config.host;
  return {};
}

policy::Result<ClientConfig> loadKubeconfig(const std::filesystem::path& file,
                                            const KubeconfigOptions& options) {
  return KubeconfigReader(file, options).read();
}

policy::Result<ClientConfig> loadInClusterConfig(const InClusterOptions& options) {
  const std::string origin = "in-cluster configuration";
  const auto environment = options.environment ? options.environment : processEnvironment;
  const auto host = environment("KUBERNETES_SERVICE_HOST");
  const auto port = environment("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return policy::fail(origin + ": KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
                        "set, so this is not a pod (give a kubeconfig instead)");
  }
  ClientConfig config;
  const bool ipv6 = host->find(':') != std::string::npos;
  const std::string url = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  if (auto parsed = parseServerUrl(url, config); !parsed) {
    return policy::fail(origin + ": KUBERNETES_SERVICE_HOST/PORT: " + parsed.error().message);
  }
  config.origin = origin;
  const std::filesystem::path ca_file = options.service_account_dir / "ca.crt";
  auto ca = readWholeFile(ca_file);
  if (!ca) {
    return policy::fail(origin + ": cannot read " + ca_file.string());
  }
  if (countCertificates(*ca) == 0) {
    return policy::fail(origin + ": " + ca_file.string() + ": no PEM certificate in it");
  }
  config.ca_pem = *ca;
  auto token = TokenSource::fromFile(options.service_account_dir / "token", origin);
  if (!token) {
    return std::unexpected(token.error());
  }
  config.token = *token;
  if (auto namespace_name = readWholeFile(options.service_account_dir / "namespace")) {
    config.namespace_name = trimmed(*namespace_name);
  }
  return config;
}

}  // namespace palisade::kube
