#include "policy/objects.h"

namespace palisade::policy {

std::string_view toString(Direction direction) {
  return direction == Direction::kIngress ? "Ingress" : "Egress";
}

PolicyTypes effectivePolicyTypes(const NetworkPolicySpec& spec) {
  // pkg/apis/networking/v1/defaults.go: SetDefaults_NetworkPolicy.
  if (spec.policy_types.empty()) {
    return PolicyTypes{.ingress = true, .egress = !spec.egress.empty()};
  }
  PolicyTypes types;
  for (const std::string& type : spec.policy_types) {
    if (type == "Ingress") {
      types.ingress = true;
    } else if (type == "Egress") {
      types.egress = true;
    }
  }
  return types;
}

std::string_view toString(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTCP:
      return "TCP";
    case Protocol::kUDP:
      return "UDP";
    case Protocol::kSCTP:
      return "SCTP";
  }
  return "?";
}

std::optional<Protocol> parseProtocol(std::string_view text) {
  if (text == "TCP") {
    return Protocol::kTCP;
  }
  if (text == "UDP") {
    return Protocol::kUDP;
  }
  if (text == "SCTP") {
    return Protocol::kSCTP;
  }
  return std::nullopt;
}

std::optional<Protocol> protocolOrDefault(std::string_view text) {
  return text.empty() ? std::optional(Protocol::kTCP) : parseProtocol(text);
}

}  // namespace palisade::policy
