#pragma once
// Socket set-up: non-blocking listeners (one per worker, SO_REUSEPORT, so the kernel
// spreads accepted connections across workers without a shared accept lock) and
// non-blocking connects.
#include <cstdint>
#include <optional>

#include "common/result.h"
#include "net/address.h"

namespace weir::net {

// Binds and listens. `reuse_port` lets every worker bind its own socket to one address.
// `backlog`: pending connections the kernel queues; unset, net.core.somaxconn (the
// kernel caps any larger value to it), as Envoy does.
Result<int> listen_on(const Address& address, bool reuse_port,
                      std::optional<uint32_t> backlog = std::nullopt);
// Starts a non-blocking connect; the socket becomes writable when it completes.
Result<int> connect_to(const Address& address);
// The pending error of a socket (after a non-blocking connect), 0 if none.
int socket_error(int fd);
void set_nodelay(int fd);

}  // namespace weir::net
