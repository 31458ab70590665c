#pragma once
// Per worker, per cluster: idle keep-alive connections to the cluster's endpoints, and
// new connections round-robin across endpoints. An idle connection the upstream closes
// is dropped as soon as the close is seen.
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "event/event_loop.h"
#include "http/http1_parser.h"
#include "net/connection.h"
#include "proxy/cluster_manager.h"

namespace weir::proxy {

class UpstreamPool {
 public:
  UpstreamPool(event::EventLoop& loop, const Cluster& cluster);
  ~UpstreamPool();  // out of line: IdleConnection is complete only there

  struct Lease {
    std::unique_ptr<net::Connection> connection;
    std::string endpoint;  // "ip:port"
    bool reused = false;
  };
  // An idle connection if there is one (unless `fresh`), else a new connect in progress.
  Result<Lease> acquire(bool fresh = false);
  // Keeps a connection whose last exchange ended cleanly, for the next request.
  void release(Lease lease);
  // Counts a connection that closed for good (for upstream_cx_active).
  void connection_closed();
  // A response parser for `visitor`: one an earlier request gave back, reset, when there
  // is one (a parser per request would cost three allocations each time).
  std::unique_ptr<http::Http1Parser> take_response_parser(http::Http1Visitor& visitor);
  void recycle_response_parser(std::unique_ptr<http::Http1Parser> parser);

  const Cluster& cluster() const { return cluster_; }
  size_t idle_count() const { return idle_.size(); }

 private:
  struct IdleConnection;
  void drop_idle(IdleConnection* idle);

  event::EventLoop& loop_;
  const Cluster& cluster_;
  size_t next_endpoint_ = 0;
  // Parked connections, the most recently parked last (reused first).
  std::vector<std::unique_ptr<IdleConnection>> idle_;
  // Parking spots and response parsers kept from earlier requests, so that parking and
  // unparking a connection and parsing its response allocate nothing per request. Up to
  // kMaxSpares each: with several requests in flight (a request's parser comes back only
  // once it is deleted, after its response), one spare is not enough.
  static constexpr size_t kMaxSpares = 64;
  std::vector<std::unique_ptr<IdleConnection>> spares_;
  std::vector<std::unique_ptr<http::Http1Parser>> spare_parsers_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for deferred work
};

}  // namespace weir::proxy
