#pragma once
// What the Proxy-Wasm host layer needs from an HTTP stream. The HTTP wasm filter
// implements it over proxy::HttpFilterCallbacks; unit tests implement it with a fake.
// The host layer never sees sockets or the connection manager.
#include <cstdint>
#include <string>
#include <string_view>

#include "http/header_map.h"
#include "proxy_wasm/types.h"

namespace weir::proxy_wasm {

class StreamHost {
 public:
  virtual ~StreamHost() = default;

  // The map of that type as it exists now, or nullptr when it does not exist at this
  // point of the stream (response headers during the request phase, ...). Only types 0-3
  // reach here.
  virtual http::HeaderMap* header_map(MapType type) = 0;
  // The body the plugin sees in its body callback (the accumulated one while buffering),
  // or nullptr when there is none now. Only HttpRequestBody / HttpResponseBody reach here,
  // and DownstreamData / UpstreamData (network streams: see network_stream_host.h).
  virtual std::string* body_buffer(BufferType type) = 0;

  // Answer the client. Called from inside a callback; the implementation must make it
  // take effect after the callback returns (the host layer ignores the callback's return
  // value once this was called).
  virtual void send_local_response(uint32_t status, std::string_view body, http::HeaderMap headers,
                                   std::string_view details, uint32_t grpc_status) = 0;
  // Resume a direction the plugin paused. May be called from inside a callback of the
  // same stream (before it returned PAUSE): the implementation handles that.
  virtual WasmResult continue_stream(StreamType type) = 0;
  virtual WasmResult close_stream(StreamType type) = 0;
  virtual void clear_route_cache() = 0;

  // Stream properties the host layer cannot derive from the header maps (source.*,
  // destination.*, connection.*, request.protocol/time/size, response.code, upstream.*,
  // cluster_name, route_name, ...). `path` is the NUL-separated token path. Write the
  // encoded value (see properties.h) to `out` and return true, or return false for
  // NOT_FOUND.
  virtual bool get_stream_property(std::string_view path, std::string& out) = 0;
  // The VM died outside this stream's own callbacks (e.g. in the root context's http call
  // answer): a stream the plugin holds must get the failure policy now, not hang.
  virtual void on_vm_failed() {}
};

}  // namespace weir::proxy_wasm
