#include "lab/prober.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace palisade::lab {
namespace {

using Clock = std::chrono::steady_clock;
using policy::IpAddress;
using policy::IpFamily;
using policy::Protocol;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

struct SocketType {
  int type;
  int protocol;
};

SocketType socketType(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTCP:
      return {SOCK_STREAM, IPPROTO_TCP};
    case Protocol::kUDP:
      return {SOCK_DGRAM, IPPROTO_UDP};
    case Protocol::kSCTP:
      // One-to-one style: connect, listen and accept as with TCP.
      return {SOCK_STREAM, IPPROTO_SCTP};
  }
  return {SOCK_STREAM, IPPROTO_TCP};
}

bool connectionOriented(Protocol protocol) { return protocol != Protocol::kUDP; }

int domainOf(IpFamily family) { return family == IpFamily::kIPv4 ? AF_INET : AF_INET6; }

socklen_t toSockaddr(const IpAddress& address, uint16_t port, sockaddr_storage& storage) {
  storage = {};
  if (address.family() == IpFamily::kIPv4) {
    auto& v4 = reinterpret_cast<sockaddr_in&>(storage);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    std::memcpy(&v4.sin_addr, address.bytes().data(), 4);
    return sizeof(sockaddr_in);
  }
  auto& v6 = reinterpret_cast<sockaddr_in6&>(storage);
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(port);
  std::memcpy(&v6.sin6_addr, address.bytes().data(), 16);
  return sizeof(sockaddr_in6);
}

std::string endpointText(const IpAddress& address, Protocol protocol, uint16_t port) {
  return address.family() == IpFamily::kIPv4
             ? fmt::format("{}:{}/{}", address.toString(), port, policy::toString(protocol))
             : fmt::format("[{}]:{}/{}", address.toString(), port, policy::toString(protocol));
}

policy::Result<UniqueFd> openSocket(const NetnsHandle& netns, IpFamily family,
                                    Protocol protocol) {
  const NetnsScope scope(netns);
  if (!scope.status()) {
    return std::unexpected(scope.status().error());
  }
  const SocketType type = socketType(protocol);
  UniqueFd fd(socket(domainOf(family), type.type | SOCK_NONBLOCK | SOCK_CLOEXEC, type.protocol));
  if (fd.get() < 0) {
    return policy::fail(fmt::format("socket: {}", std::strerror(errno)));
  }
  return fd;
}

policy::Result<UniqueFd> openServer(const ServerSpec& spec) {
  const std::string where = endpointText(spec.address, spec.protocol, spec.port);
  policy::Result<UniqueFd> fd = openSocket(*spec.netns, spec.address.family(), spec.protocol);
  if (!fd) {
    return policy::fail(fmt::format("cannot serve {}: {}", where, fd.error().message));
  }
  const int on = 1;
  setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (spec.address.family() == IpFamily::kIPv6) {
    setsockopt(fd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
  }
  sockaddr_storage address;
  const socklen_t length = toSockaddr(spec.address, spec.port, address);
  if (bind(fd->get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    return policy::fail(fmt::format("cannot serve {}: bind: {}", where, std::strerror(errno)));
  }
  if (connectionOriented(spec.protocol) && listen(fd->get(), SOMAXCONN) != 0) {
    return policy::fail(fmt::format("cannot serve {}: listen: {}", where, std::strerror(errno)));
  }
  return fd;
}

// Epoll tags: what the descriptor is, which one, and for probes which attempt,
// so that an event queued for an attempt's closed socket is never taken for
// the next attempt's.
enum class Kind : uint64_t { kCancel = 1, kServer = 2, kProbe = 3 };

uint64_t tagOf(Kind kind, uint32_t index, uint32_t attempt = 0) {
  return (static_cast<uint64_t>(kind) << 56) | (static_cast<uint64_t>(attempt & 0xffffff) << 32) |
         index;
}
Kind kindOf(uint64_t tag) { return static_cast<Kind>(tag >> 56); }
uint32_t indexOf(uint64_t tag) { return static_cast<uint32_t>(tag); }
uint32_t attemptOf(uint64_t tag) { return static_cast<uint32_t>(tag >> 32) & 0xffffff; }

using Token = std::array<char, 16>;

Token tokenFor(size_t index, int attempt) {
  Token token{};
  std::memcpy(token.data(), "palisade", 8);
  const auto index32 = static_cast<uint32_t>(index);
  const auto attempt32 = static_cast<uint32_t>(attempt);
  std::memcpy(token.data() + 8, &index32, 4);
  std::memcpy(token.data() + 12, &attempt32, 4);
  return token;
}

void serveStream(int listener) {
  while (true) {
    const int connection = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (connection < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      return;  // EAGAIN: nothing more queued
    }
    close(connection);
  }
}

void serveDatagrams(int server) {
  std::array<char, 512> buffer;
  while (true) {
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof(peer);
    const ssize_t got = recvfrom(server, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&peer), &peer_length);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    sendto(server, buffer.data(), static_cast<size_t>(got), MSG_DONTWAIT,
           reinterpret_cast<const sockaddr*>(&peer), peer_length);
  }
}

// The state of the probes of one run.
class ProbeRun {
 public:
  ProbeRun(const std::vector<ProbeSpec>& probes, const ProbeSettings& settings, int epoll_fd)
      : probes_(probes),
        settings_(settings),
        epoll_fd_(epoll_fd),
        results_(probes.size()),
        sockets_(probes.size()),
        deadlines_(probes.size()) {}

  bool done() const { return finished_ == probes_.size(); }

  policy::Result<void> startMore() {
    while (in_flight_.size() < std::max<size_t>(settings_.max_in_flight, 1) &&
           next_ < probes_.size()) {
      if (policy::Result<void> started = attempt(next_++); !started) {
        return started;
      }
    }
    return {};
  }

  // Milliseconds until the nearest deadline; -1 when nothing is in flight.
  int waitMilliseconds() const {
    if (in_flight_.empty()) {
      return -1;
    }
    Clock::time_point nearest = Clock::time_point::max();
    for (size_t index : in_flight_) {
      nearest = std::min(nearest, deadlines_[index]);
    }
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(nearest - Clock::now());
    return static_cast<int>(std::max<int64_t>(left.count(), 0));
  }

  policy::Result<void> onEvent(uint64_t tag, uint32_t events) {
    const size_t index = indexOf(tag);
    if (index >= probes_.size() || sockets_[index].get() < 0 ||
        attemptOf(tag) != static_cast<uint32_t>(results_[index].attempts)) {
      return {};  // a closed attempt's leftover event
    }
    const int fd = sockets_[index].get();
    if (connectionOriented(probes_[index].protocol)) {
      int error = 0;
      socklen_t length = sizeof(error);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        return failed(index, std::strerror(error));
      }
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof(peer);
      if ((events & EPOLLOUT) != 0 &&
          getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0) {
        finish(index, true, "");
      }
      return {};
    }
    Token reply{};
    const ssize_t got = recv(fd, reply.data(), reply.size(), MSG_DONTWAIT);
    if (got < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        return {};
      }
      return failed(index, std::strerror(errno));
    }
    if (static_cast<size_t>(got) == reply.size() &&
        reply == tokenFor(index, results_[index].attempts)) {
      finish(index, true, "");
    }
    return {};
  }

  policy::Result<void> expireDeadlines() {
    const Clock::time_point now = Clock::now();
    // Copied: failing a probe may start its next attempt, which changes the list.
    const std::vector<size_t> in_flight = in_flight_;
    for (size_t index : in_flight) {
      if (sockets_[index].get() >= 0 && deadlines_[index] <= now) {
        if (policy::Result<void> handled = failed(index, "timed out"); !handled) {
          return handled;
        }
      }
    }
    return {};
  }

  std::vector<ProbeResult> takeResults() { return std::move(results_); }

 private:
  policy::Result<void> attempt(size_t index) {
    const ProbeSpec& probe = probes_[index];
    ProbeResult& result = results_[index];
    ++result.attempts;
    if (std::ranges::find(in_flight_, index) == in_flight_.end()) {
      in_flight_.push_back(index);
    }
    policy::Result<UniqueFd> fd =
        openSocket(*probe.source, probe.destination.family(), probe.protocol);
    if (!fd) {
      return policy::fail(fmt::format("cannot probe {}: {}",
                                      endpointText(probe.destination, probe.protocol, probe.port),
                                      fd.error().message));
    }
    sockets_[index] = std::move(*fd);
    deadlines_[index] = Clock::now() + settings_.timeout;
    const int socket_fd = sockets_[index].get();
    sockaddr_storage address;
    const socklen_t length = toSockaddr(probe.destination, probe.port, address);
    const bool stream = connectionOriented(probe.protocol);
    if (connect(socket_fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 &&
        !(stream && errno == EINPROGRESS)) {
      return failed(index, std::strerror(errno));
    }
    if (!stream) {
      const Token token = tokenFor(index, result.attempts);
      if (send(socket_fd, token.data(), token.size(), MSG_NOSIGNAL) < 0) {
        return failed(index, std::strerror(errno));
      }
    }
    epoll_event event{};
    event.events = stream ? EPOLLOUT : EPOLLIN;
    event.data.u64 = tagOf(Kind::kProbe, static_cast<uint32_t>(index),
                           static_cast<uint32_t>(result.attempts));
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, socket_fd, &event) != 0) {
      return policy::fail(fmt::format("epoll_ctl: {}", std::strerror(errno)));
    }
    return {};
  }

  // The current attempt failed: try again while attempts are left.
  policy::Result<void> failed(size_t index, std::string_view why) {
    sockets_[index].reset();
    if (results_[index].attempts < settings_.attempts) {
      return attempt(index);
    }
    finish(index, false, why);
    return {};
  }

  void finish(size_t index, bool reached, std::string_view failure) {
    sockets_[index].reset();
    results_[index].reached = reached;
    results_[index].failure = std::string(failure);
    std::erase(in_flight_, index);
    ++finished_;
  }

  const std::vector<ProbeSpec>& probes_;
  const ProbeSettings& settings_;
  int epoll_fd_;
  std::vector<ProbeResult> results_;
  std::vector<UniqueFd> sockets_;
  std::vector<Clock::time_point> deadlines_;
  std::vector<size_t> in_flight_;
  size_t next_ = 0;
  size_t finished_ = 0;
};

}  // namespace

policy::Result<void> checkProtocolSupport(Protocol protocol) {
  const SocketType type = socketType(protocol);
  const int fd = socket(AF_INET, type.type | SOCK_CLOEXEC, type.protocol);
  if (fd < 0) {
    return policy::fail(fmt::format("this kernel has no {} sockets ({})",
                                    policy::toString(protocol), std::strerror(errno)));
  }
  close(fd);
  return {};
}

policy::Result<std::vector<ProbeResult>> runProbes(const std::vector<ServerSpec>& servers,
                                                   const std::vector<ProbeSpec>& probes,
                                                   const ProbeSettings& settings,
                                                   const CancelToken* cancel) {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  if (epoll.get() < 0) {
    return policy::fail(fmt::format("epoll_create1: {}", std::strerror(errno)));
  }
  auto watch = [&](int fd, uint32_t events, uint64_t tag) -> policy::Result<void> {
    epoll_event event{};
    event.events = events;
    event.data.u64 = tag;
    if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
      return policy::fail(fmt::format("epoll_ctl: {}", std::strerror(errno)));
    }
    return {};
  };
  if (cancel != nullptr && cancel->fd() >= 0) {
    if (policy::Result<void> watched = watch(cancel->fd(), EPOLLIN, tagOf(Kind::kCancel, 0));
        !watched) {
      return std::unexpected(watched.error());
    }
  }

  std::vector<UniqueFd> server_fds;
  server_fds.reserve(servers.size());
  for (const ServerSpec& server : servers) {
    policy::Result<UniqueFd> fd = openServer(server);
    if (!fd) {
      return std::unexpected(fd.error());
    }
    if (policy::Result<void> watched =
            watch(fd->get(), EPOLLIN,
                  tagOf(Kind::kServer, static_cast<uint32_t>(server_fds.size())));
        !watched) {
      return std::unexpected(watched.error());
    }
    server_fds.push_back(std::move(*fd));
  }

  ProbeRun run(probes, settings, epoll.get());
  std::array<epoll_event, 128> events;
  while (true) {
    if (cancel != nullptr && cancel->raised()) {
      return policy::fail("interrupted");
    }
    if (policy::Result<void> started = run.startMore(); !started) {
      return std::unexpected(started.error());
    }
    if (run.done()) {
      break;
    }
    const int count = epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()),
                                 run.waitMilliseconds());
    if (count < 0 && errno != EINTR) {
      return policy::fail(fmt::format("epoll_wait: {}", std::strerror(errno)));
    }
    for (int i = 0; i < count; ++i) {
      const uint64_t tag = events[static_cast<size_t>(i)].data.u64;
      switch (kindOf(tag)) {
        case Kind::kCancel:
          break;  // seen at the top of the loop
        case Kind::kServer: {
          const size_t index = indexOf(tag);
          if (connectionOriented(servers[index].protocol)) {
            serveStream(server_fds[index].get());
          } else {
            serveDatagrams(server_fds[index].get());
          }
          break;
        }
        case Kind::kProbe:
          if (policy::Result<void> handled =
                  run.onEvent(tag, events[static_cast<size_t>(i)].events);
              !handled) {
            return std::unexpected(handled.error());
          }
          break;
      }
    }
    if (policy::Result<void> expired = run.expireDeadlines(); !expired) {
      return std::unexpected(expired.error());
    }
  }
  return run.takeResults();
}

}  // namespace palisade::lab
