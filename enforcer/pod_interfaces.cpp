#include "enforcer/pod_interfaces.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

namespace palisade::enforcer {
namespace {

struct SocketCloser {
  void operator()(mnl_socket* socket) const { mnl_socket_close(socket); }
};
using NetlinkSocket = std::unique_ptr<mnl_socket, SocketCloser>;

policy::Result<NetlinkSocket> openRouteSocket() {
  NetlinkSocket socket(mnl_socket_open(NETLINK_ROUTE));
  if (!socket) {
    return policy::fail(std::string("rtnetlink: cannot open a socket: ") + std::strerror(errno));
  }
  if (mnl_socket_bind(socket.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return policy::fail(std::string("rtnetlink: cannot bind: ") + std::strerror(errno));
  }
  return socket;
}

// Sends `request` (not a dump) and feeds its answer to `on_message`.
// Errors from the kernel come back as errno.
policy::Result<void> exchange(mnl_socket* socket, nlmsghdr* request, mnl_cb_t on_message,
                              void* data) {
  const unsigned port = mnl_socket_get_portid(socket);
  if (mnl_socket_sendto(socket, request, request->nlmsg_len) < 0) {
    return policy::fail(std::string("rtnetlink: send failed: ") + std::strerror(errno));
  }
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  const ssize_t received = mnl_socket_recvfrom(socket, buffer.data(), buffer.size());
  if (received < 0) {
    return policy::fail(std::string("rtnetlink: receive failed: ") + std::strerror(errno));
  }
  // The requests here are not dumps: one answer (or an error) ends them.
  if (mnl_cb_run(buffer.data(), static_cast<size_t>(received), request->nlmsg_seq, port,
                 on_message, data) == MNL_CB_ERROR) {
    return policy::fail(std::string("rtnetlink: ") + std::strerror(errno));
  }
  return {};
}

int onRouteAttribute(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) == RTA_OIF &&
      mnl_attr_validate(attribute, MNL_TYPE_U32) >= 0) {
    *static_cast<int*>(data) = static_cast<int>(mnl_attr_get_u32(attribute));
  }
  return MNL_CB_OK;
}

int onRoute(const nlmsghdr* message, void* data) {
  return mnl_attr_parse(message, sizeof(rtmsg), onRouteAttribute, data);
}

struct LinkInfo {
  std::string name;
  std::string kind;
};

int onLinkInfo(const nlattr* attribute, void* data) {
  if (mnl_attr_get_type(attribute) == IFLA_INFO_KIND &&
      mnl_attr_validate(attribute, MNL_TYPE_STRING) >= 0) {
    static_cast<LinkInfo*>(data)->kind = mnl_attr_get_str(attribute);
  }
  return MNL_CB_OK;
}

int onLinkAttribute(const nlattr* attribute, void* data) {
  auto& info = *static_cast<LinkInfo*>(data);
  switch (mnl_attr_get_type(attribute)) {
    case IFLA_IFNAME:
      if (mnl_attr_validate(attribute, MNL_TYPE_STRING) >= 0) {
        info.name = mnl_attr_get_str(attribute);
      }
      break;
    case IFLA_LINKINFO:
      mnl_attr_parse_nested(attribute, onLinkInfo, &info);
      break;
    default:
      break;
  }
  return MNL_CB_OK;
}

int onLink(const nlmsghdr* message, void* data) {
  return mnl_attr_parse(message, sizeof(ifinfomsg), onLinkAttribute, data);
}

}  // namespace

policy::Result<std::optional<PodInterface>> podInterfaceFor(const policy::IpAddress& address) {
  auto socket = openRouteSocket();
  if (!socket) {
    return std::unexpected(socket.error());
  }
  std::vector<char> buffer(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* request = mnl_nlmsg_put_header(buffer.data());
  request->nlmsg_type = RTM_GETROUTE;
  request->nlmsg_flags = NLM_F_REQUEST;
  request->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
  auto* route = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(request, sizeof(rtmsg)));
  const bool v4 = address.family() == policy::IpFamily::kIPv4;
  route->rtm_family = v4 ? AF_INET : AF_INET6;
  route->rtm_dst_len = v4 ? 32 : 128;
  mnl_attr_put(request, RTA_DST, v4 ? 4 : 16, address.bytes().data());
  int oif = 0;
  if (auto done = exchange(socket->get(), request, onRoute, &oif); !done) {
    if (errno == ENETUNREACH || errno == EHOSTUNREACH) {
      return std::optional<PodInterface>();
    }
    return std::unexpected(done.error());
  }
  if (oif == 0) {
    return std::optional<PodInterface>();
  }

  request = mnl_nlmsg_put_header(buffer.data());
  request->nlmsg_type = RTM_GETLINK;
  request->nlmsg_flags = NLM_F_REQUEST;
  request->nlmsg_seq = static_cast<uint32_t>(time(nullptr)) + 1;
  auto* link = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(request, sizeof(ifinfomsg)));
  link->ifi_family = AF_UNSPEC;
  link->ifi_index = oif;
  LinkInfo info;
  if (auto done = exchange(socket->get(), request, onLink, &info); !done) {
    return std::unexpected(done.error());
  }
  if (info.kind != "veth") {
    return std::optional<PodInterface>();
  }
  return std::optional(PodInterface{oif, info.name});
}

}  // namespace palisade::enforcer
