#pragma once
// Socket addresses: parse "ip"+port into sockaddr, and print a peer as "ip" and port.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "common/result.h"

namespace weir::net {

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  std::string ip() const;
  uint16_t port() const;
  std::string to_string() const;  // "1.2.3.4:80" or "[::1]:80"
};

// Numeric IPv4/IPv6 literal, or a host name resolved now (blocking: start-up only).
Result<Address> resolve(const std::string& host, uint16_t port);
Address local_address_of(int fd);
Address peer_address_of(int fd);

}  // namespace weir::net
