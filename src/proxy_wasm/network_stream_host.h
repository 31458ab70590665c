#pragma once
// What the Proxy-Wasm host layer needs from a TCP connection that a network Wasm filter
// (envoy.filters.network.wasm) sees. The network filter in src/extensions implements it;
// the host layer never sees the sockets.
//
// It is a StreamHost without the HTTP parts (no header maps, no local replies, no
// routes), so the host functions shared with HTTP streams (buffers, properties,
// proxy_continue_stream, proxy_close_stream) reach it the same way.
#include <string>

#include "proxy_wasm/stream_host.h"

namespace weir::proxy_wasm {

class NetworkStreamHost : public StreamHost {
 public:
  // The bytes the plugin sees in proxy_on_downstream_data (DownstreamData) or
  // proxy_on_upstream_data (UpstreamData): everything held in that direction, which the
  // plugin may rewrite. nullptr outside that callback.
  virtual std::string* data_buffer(BufferType type) = 0;
  // continue_stream(Downstream or Upstream): release what the plugin held in that
  // direction (the Go SDK's ContinueTcpStream sends Downstream for both). close_stream:
  // close that side's connection (and so the proxied connection).

  http::HeaderMap* header_map(MapType) final { return nullptr; }
  std::string* body_buffer(BufferType type) final {
    if (type != BufferType::DownstreamData && type != BufferType::UpstreamData) return nullptr;
    return data_buffer(type);
  }
  void send_local_response(uint32_t, std::string_view, http::HeaderMap, std::string_view,
                           uint32_t) final {}
  void clear_route_cache() final {}
};

}  // namespace weir::proxy_wasm
