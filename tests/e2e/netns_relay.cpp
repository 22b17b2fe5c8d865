#include "tests/e2e/netns_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace palisade::e2e {
namespace {

constexpr int kPollMillis = 200;

sockaddr_in loopback(uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

std::string lastError(const std::string& what) { return what + ": " + std::strerror(errno); }

// The listening socket, made in `netns` by a thread that enters it (setns
// changes the calling thread only) and ends there: the socket stays in the
// namespace it was made in, the rest of the process never leaves its own.
policy::Result<int> listenIn(const std::string& netns, uint16_t port) {
  policy::Result<int> result = policy::fail("not run");
  std::thread([&] {
    const int ns = ::open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0) {
      result = policy::fail(lastError("open /run/netns/" + netns));
      return;
    }
    const int entered = ::setns(ns, CLONE_NEWNET);
    ::close(ns);
    if (entered != 0) {
      result = policy::fail(lastError("setns " + netns));
      return;
    }
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    const sockaddr_in address = loopback(port);
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd, 64) != 0) {
      result = policy::fail(lastError("listening on 127.0.0.1:" + std::to_string(port) +
                                      " in " + netns));
      if (fd >= 0) {
        ::close(fd);
      }
      return;
    }
    result = fd;
  }).join();
  return result;
}

// Copies what one side sends to the other until either closes or `stopping`.
void pump(int a, int b, const std::atomic<bool>& stopping) {
  std::array<char, 16384> buffer{};
  std::array<pollfd, 2> fds{pollfd{a, POLLIN, 0}, pollfd{b, POLLIN, 0}};
  while (!stopping.load()) {
    const int ready = ::poll(fds.data(), fds.size(), kPollMillis);
    if (ready < 0 && errno != EINTR) {
      return;
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      const ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (got <= 0) {
        return;
      }
      const int to = fds[1 - i].fd;
      for (ssize_t sent = 0; sent < got;) {
        const ssize_t wrote = ::write(to, buffer.data() + sent, static_cast<size_t>(got - sent));
        if (wrote <= 0) {
          return;
        }
        sent += wrote;
      }
    }
  }
}

}  // namespace

policy::Result<std::unique_ptr<NetnsRelay>> NetnsRelay::start(const std::string& netns,
                                                              uint16_t port) {
  policy::Result<int> listener = listenIn(netns, port);
  if (!listener) {
    return std::unexpected(listener.error());
  }
  return std::unique_ptr<NetnsRelay>(new NetnsRelay(*listener, port));
}

NetnsRelay::NetnsRelay(int listener, uint16_t port)
    : listener_(listener), port_(port), acceptor_([this] { acceptLoop(); }) {}

NetnsRelay::~NetnsRelay() {
  stopping_.store(true);
  acceptor_.join();
  ::close(listener_);
  std::lock_guard lock(mutex_);
  for (std::thread& connection : connections_) {
    connection.join();
  }
}

void NetnsRelay::acceptLoop() {
  pollfd listening{listener_, POLLIN, 0};
  while (!stopping_.load()) {
    if (::poll(&listening, 1, kPollMillis) <= 0) {
      continue;
    }
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      continue;
    }
    std::lock_guard lock(mutex_);
    connections_.emplace_back([this, client] { relay(client); });
  }
}

void NetnsRelay::relay(int client) {
  const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in address = loopback(port_);
  if (upstream >= 0 &&
      ::connect(upstream, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
    pump(client, upstream, stopping_);
  }
  if (upstream >= 0) {
    ::close(upstream);
  }
  ::close(client);
}

}  // namespace palisade::e2e
