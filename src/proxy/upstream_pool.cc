#include "proxy/upstream_pool.h"

#include <unistd.h>

#include "net/socket.h"

namespace weir::proxy {

// Watches a parked connection: any byte or close from the upstream ends its idle life.
struct UpstreamPool::IdleConnection : net::Connection::Handler {
  UpstreamPool* pool;
  Lease lease;
  void on_data(std::string& input) override {
    input.clear();
    lease.connection->close(true);
  }
  void on_close(bool, std::string_view) override { pool->drop_idle(this); }
};

UpstreamPool::UpstreamPool(event::EventLoop& loop, const Cluster& cluster)
    : loop_(loop), cluster_(cluster) {}

UpstreamPool::~UpstreamPool() {
  *alive_ = false;
  for (auto& idle : idle_) idle->lease.connection->set_handler(nullptr);
}

Result<UpstreamPool::Lease> UpstreamPool::acquire(bool fresh) {
  while (!fresh && !idle_.empty()) {
    auto idle = std::move(idle_.back());
    idle_.pop_back();
    if (!idle->lease.connection->is_open()) {
      connection_closed();
      continue;
    }
    idle->lease.connection->set_handler(nullptr);
    Lease lease = std::move(idle->lease);
    idle->lease = {};
    if (spares_.size() < kMaxSpares) spares_.push_back(std::move(idle));
    lease.reused = true;
    return lease;
  }
  if (cluster_.endpoints.empty()) return Error{"cluster has no endpoints"};
  const net::Address& addr = cluster_.endpoints[next_endpoint_++ % cluster_.endpoints.size()];
  auto fd = net::connect_to(addr);
  if (!fd) {
    cluster_.stats->upstream_cx_connect_fail.inc();
    return Error{fd.error()};
  }
  cluster_.stats->upstream_cx_total.inc();
  cluster_.stats->upstream_cx_active.add(1);
  Lease lease;
  std::unique_ptr<net::tls::TlsSocket> tls;
  if (cluster_.tls) {
    tls = cluster_.tls->new_socket(*fd);
    if (!tls) {
      ::close(*fd);
      cluster_.stats->upstream_cx_connect_fail.inc();
      cluster_.stats->upstream_cx_active.sub(1);
      return Error{"cannot create a TLS session (out of memory)"};
    }
  }
  lease.connection = std::make_unique<net::Connection>(loop_, *fd, true, std::move(tls));
  lease.connection->set_buffer_limit(cluster_.config.per_connection_buffer_limit_bytes);
  lease.endpoint = addr.to_string();
  return lease;
}

void UpstreamPool::release(Lease lease) {
  // An idle connection must see the upstream's close (or stray bytes) to be dropped. One
  // that flow control had paused may have missed those events (edge-triggered): look
  // again once the caller's callback has returned.
  const bool missed_events = !lease.connection->reading();
  lease.connection->set_reading(true);
  std::unique_ptr<IdleConnection> idle;
  if (spares_.empty()) {
    idle = std::make_unique<IdleConnection>();
  } else {
    idle = std::move(spares_.back());
    spares_.pop_back();
  }
  idle->pool = this;
  idle->lease = std::move(lease);
  idle->lease.connection->set_handler(idle.get());
  IdleConnection* parked = idle.get();
  idle_.push_back(std::move(idle));
  if (missed_events) {
    loop_.defer([this, parked, alive = alive_] {
      if (!*alive) return;
      for (auto& entry : idle_) {
        if (entry.get() == parked) {
          parked->lease.connection->redeliver();
          return;
        }
      }
    });
  }
}

std::unique_ptr<http::Http1Parser> UpstreamPool::take_response_parser(http::Http1Visitor& visitor) {
  if (spare_parsers_.empty()) {
    return std::make_unique<http::Http1Parser>(http::MessageType::Response, visitor);
  }
  std::unique_ptr<http::Http1Parser> parser = std::move(spare_parsers_.back());
  spare_parsers_.pop_back();
  parser->reset(visitor);
  return parser;
}

void UpstreamPool::recycle_response_parser(std::unique_ptr<http::Http1Parser> parser) {
  if (spare_parsers_.size() < kMaxSpares) spare_parsers_.push_back(std::move(parser));
}

void UpstreamPool::connection_closed() { cluster_.stats->upstream_cx_active.sub(1); }

void UpstreamPool::drop_idle(IdleConnection* idle) {
  // Called from inside the connection's callback: delete after it returns.
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->get() == idle) {
      std::unique_ptr<IdleConnection> doomed = std::move(*it);
      idle_.erase(it);
      connection_closed();
      loop_.defer_delete(std::move(doomed));
      return;
    }
  }
}

}  // namespace weir::proxy
