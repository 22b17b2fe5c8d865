#pragma once

// Which interface of this node leads to a local pod: the host side of the
// pod's veth pair, found the way the kernel forwards to the pod (the route to
// its address), over rtnetlink.

#include <optional>
#include <string>

#include "policy/error.h"
#include "policy/ip.h"

namespace palisade::enforcer {

struct PodInterface {
  int ifindex = 0;
  std::string name;
};

// The veth this node routes `address` through, or nullopt when the route
// leads anywhere else (the pod runs on another node, or nowhere).
[[nodiscard]] policy::Result<std::optional<PodInterface>> podInterfaceFor(
    const policy::IpAddress& address);

}  // namespace palisade::enforcer
