#include "proxy/upstream_request.h"

#include "proxy/cluster_manager.h"
#include "proxy/upstream_http1_request.h"
#include "proxy/upstream_http2_request.h"
#include "proxy/upstream_pool.h"

namespace weir::proxy {

std::unique_ptr<UpstreamRequest> UpstreamRequest::create(UpstreamPool& pool, Callbacks& callbacks,
                                                         event::EventLoop& loop,
                                                         bool downstream_http2) {
  using config::UpstreamHttpProtocol;
  const UpstreamHttpProtocol protocol = pool.cluster().config.http_protocol;
  const bool http2 = protocol == UpstreamHttpProtocol::Http2 ||
                     (protocol == UpstreamHttpProtocol::UseDownstream && downstream_http2);
  if (http2) return std::make_unique<Http2UpstreamRequest>(pool, callbacks, loop);
  return std::make_unique<Http1UpstreamRequest>(pool, callbacks, loop);
}

}  // namespace weir::proxy
