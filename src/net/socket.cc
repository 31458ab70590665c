#include "net/socket.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

namespace weir::net {

Result<int> listen_on(const Address& address, bool reuse_port, std::optional<uint32_t> backlog) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{std::string("socket: ") + strerror(errno)};
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    std::string why = strerror(errno);
    close(fd);
    return Error{"cannot bind " + address.to_string() + ": " + why};
  }
  const int queue = backlog ? static_cast<int>(std::min<uint32_t>(*backlog, INT32_MAX)) : INT32_MAX;
  if (listen(fd, queue) != 0) {
    std::string why = strerror(errno);
    close(fd);
    return Error{"cannot listen on " + address.to_string() + ": " + why};
  }
  return fd;
}

Result<int> connect_to(const Address& address) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{std::string("socket: ") + strerror(errno)};
  set_nodelay(fd);
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length);
  if (rc != 0 && errno != EINPROGRESS) {
    std::string why = strerror(errno);
    close(fd);
    return Error{"connect " + address.to_string() + ": " + why};
  }
  return fd;
}

int socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace weir::net
