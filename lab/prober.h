#pragma once

// Servers and probes with real packets, in many network namespaces, from one
// thread: every socket is opened in its namespace (the thread enters it just
// for socket()) and then driven by a single epoll loop. A TCP server accepts
// and closes; a UDP server echoes. A TCP probe succeeds when its handshake
// completes; a UDP probe when the echo of its request comes back. A probe that
// gets no answer within the timeout is tried again, up to `attempts` times:
// denied packets are dropped silently, so a denied flow shows as a timeout.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "lab/cancel.h"
#include "lab/netns.h"
#include "policy/error.h"
#include "policy/ip.h"
#include "policy/objects.h"

namespace palisade::lab {

struct ServerSpec {
  const NetnsHandle* netns = nullptr;
  policy::IpAddress address;
  policy::Protocol protocol = policy::Protocol::kTCP;
  uint16_t port = 0;
};

struct ProbeSpec {
  const NetnsHandle* source = nullptr;  // where the client socket is opened
  policy::IpAddress destination;
  policy::Protocol protocol = policy::Protocol::kTCP;
  uint16_t port = 0;
};

struct ProbeSettings {
  std::chrono::milliseconds timeout{500};
  int attempts = 2;
  // Probes open at once; each holds a socket.
  size_t max_in_flight = 256;
};

struct ProbeResult {
  bool reached = false;
  int attempts = 0;
  // Why the last attempt failed: "timed out", or the socket error
  // ("Connection refused"); empty when reached.
  std::string failure;
};

// Whether this kernel can open sockets of `protocol` (SCTP is often missing);
// the error says why not.
[[nodiscard]] policy::Result<void> checkProtocolSupport(policy::Protocol protocol);

// Opens every server, runs every probe, closes everything. Results are in the
// order of `probes`. Fails when a server cannot be opened (the message names
// its address and port) or when `cancel` is raised.
[[nodiscard]] policy::Result<std::vector<ProbeResult>> runProbes(
    const std::vector<ServerSpec>& servers, const std::vector<ProbeSpec>& probes,
    const ProbeSettings& settings, const CancelToken* cancel);

}  // namespace palisade::lab
