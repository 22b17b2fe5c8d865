#pragma once

// Kubernetes objects as the apiserver serves them, for tests of the client
// and the caches.

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace palisade::kube::testing {

inline nlohmann::json namespaceJson(const std::string& name,
                                    const std::map<std::string, std::string>& labels = {}) {
  nlohmann::json all_labels = labels;
  all_labels["kubernetes.io/metadata.name"] = name;
  return {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata", {{"name", name}, {"labels", all_labels}}},
          {"status", {{"phase", "Active"}}}};
}

inline nlohmann::json podJson(const std::string& namespace_name, const std::string& name,
                              const std::map<std::string, std::string>& labels = {},
                              const std::string& ip = "") {
  nlohmann::json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name}, {"namespace", namespace_name}, {"labels", nlohmann::json(labels)}}},
      {"spec",
       {{"nodeName", "node-1"},
        {"containers",
         {{{"name", "app"},
           {"image", "registry.example/app:1"},
           {"ports", {{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}}}}}}}},
      {"status", {{"phase", "Running"}}}};
  if (!ip.empty()) {
    pod["status"]["podIP"] = ip;
    pod["status"]["podIPs"] = {{{"ip", ip}}};
  }
  return pod;
}

// A policy selecting pods with app=<app>, allowing ingress from the same app
// on TCP 8080.
inline nlohmann::json networkPolicyJson(const std::string& namespace_name, const std::string& name,
                                        const std::string& app) {
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "NetworkPolicy"},
          {"metadata", {{"name", name}, {"namespace", namespace_name}}},
          {"spec",
           {{"podSelector", {{"matchLabels", {{"app", app}}}}},
            {"policyTypes", {"Ingress"}},
            {"ingress",
             {{{"from", {{{"podSelector", {{"matchLabels", {{"app", app}}}}}}}},
               {"ports", {{{"protocol", "TCP"}, {"port", 8080}}}}}}}}}};
}

}  // namespace palisade::kube::testing
