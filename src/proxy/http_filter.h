#pragma once
// The HTTP filter interface: what a filter in an http_connection_manager chain sees of a
// stream. The connection manager runs filters in config order on the request path and in
// reverse order on the response path; routing happens after the last filter.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/header_map.h"
#include "net/tls/tls_info.h"

namespace weir::event {
class EventLoop;
}
namespace weir::config {
struct Route;
struct ClusterConfig;
}  // namespace weir::config
namespace weir::stats {
class StatsStore;
}

namespace weir::proxy {

enum class FilterStatus {
  Continue,  // pass headers/data on to the next filter
  // Hold the stream in this direction until continue_*() or a local reply. From a headers
  // callback it is Envoy's StopIteration: the body still reaches this filter (and the ones
  // before it), and Continue from its body callback resumes the headers, then the body.
  StopIteration,
  // Headers only (Envoy's StopAllIteration*): hold headers and body; this filter's body
  // callbacks are not called until continue_*().
  StopAllIteration,
};

// Facts about a stream that filters (and plugin properties) read.
struct StreamInfo {
  uint64_t stream_id = 0;
  uint64_t connection_id = 0;
  std::string downstream_remote_address;  // peer ip
  uint16_t downstream_remote_port = 0;
  std::string downstream_local_address;
  uint16_t downstream_local_port = 0;
  std::string protocol = "HTTP/1.1";
  std::chrono::system_clock::time_point start_time;
  std::string route_name;
  std::string cluster_name;
  std::string upstream_host;  // "ip:port" once connected
  uint32_t response_code = 0;
  std::string response_code_details;
  uint64_t bytes_received = 0;
  uint64_t bytes_sent = 0;         // response body bytes (Envoy's %BYTES_SENT%)
  uint64_t header_bytes_sent = 0;  // response head bytes
  // The client connection's TLS (owned by the connection, which outlives the stream);
  // null for plaintext.
  const net::tls::TlsInfo* downstream_tls = nullptr;
  // "TLSv1.3" once connected over TLS, else empty (a static string: copying is free).
  std::string_view upstream_tls_version;
};

// Each filter gets its own callbacks object: continue_*() resumes the stream only where
// this filter stopped it.
class HttpFilterCallbacks {
 public:
  virtual ~HttpFilterCallbacks() = default;
  // Resume a direction this filter stopped. Safe to call from a later event (timer,
  // http call answer) or, for a no-op, while not stopped.
  virtual void continue_request() = 0;
  virtual void continue_response() = 0;
  // Answer the client from here; nothing more goes upstream. `headers` are extra response
  // headers. Takes effect after the current filter callback returns.
  virtual void send_local_reply(uint32_t status, std::string_view body,
                                const http::HeaderMap& headers, std::string_view details) = 0;
  // nullptr while the map does not exist at this point of the stream.
  virtual http::HeaderMap* request_headers() = 0;
  virtual http::HeaderMap* response_headers() = 0;
  virtual http::HeaderMap* request_trailers() = 0;
  virtual http::HeaderMap* response_trailers() = 0;
  virtual StreamInfo& stream_info() = 0;
  // The route this request takes as its headers are now (matched on first use and again
  // after clear_route_cache()), or nullptr when none matches or there are no headers yet.
  virtual const config::Route* route() = 0;
  // A configured cluster, or nullptr.
  virtual const config::ClusterConfig* cluster_config(std::string_view name) = 0;
  virtual void clear_route_cache() = 0;
  // Abandons the stream: no (further) response; the client connection is closed.
  virtual void reset_stream() = 0;
};

class HttpFilter {
 public:
  virtual ~HttpFilter() = default;
  virtual FilterStatus on_request_headers(http::HeaderMap& headers, bool end_stream) = 0;
  // `chunk` is this piece of the body; filters may change it in place.
  virtual FilterStatus on_request_body(std::string& /*chunk*/, bool /*end_stream*/) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus on_request_trailers(http::HeaderMap& /*trailers*/) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus on_response_headers(http::HeaderMap& headers, bool end_stream) = 0;
  virtual FilterStatus on_response_body(std::string& /*chunk*/, bool /*end_stream*/) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus on_response_trailers(http::HeaderMap& /*trailers*/) {
    return FilterStatus::Continue;
  }
  // Called exactly once when the stream ends for any reason (complete, reset, local
  // reply); the filter is destroyed right after.
  virtual void on_stream_complete() = 0;
};

class AsyncHttpClient;

// What a worker offers filter factories.
struct WorkerContext {
  event::EventLoop& loop;
  stats::StatsStore& stats;
  unsigned worker_index;
  AsyncHttpClient* http_client = nullptr;  // requests to clusters, on this worker
};

// Per worker: makes one filter per stream.
class HttpFilterFactory {
 public:
  virtual ~HttpFilterFactory() = default;
  virtual std::unique_ptr<HttpFilter> create_filter(HttpFilterCallbacks& callbacks) = 0;
};

// Process-wide, built and validated on the main thread from config (so a bad plugin fails
// start-up); each worker then asks it for its own factory, on the worker's thread.
class HttpFilterDefinition {
 public:
  virtual ~HttpFilterDefinition() = default;
  virtual Result<std::unique_ptr<HttpFilterFactory>> create_worker_factory(
      WorkerContext& worker) = 0;
  // Called on the main thread after every worker has dropped its factory.
  virtual void shutdown() {}
};

}  // namespace weir::proxy
