#pragma once
// Network (L4) filters: what runs in a listener's filter chain before tcp_proxy, with
// Envoy's read/write filter semantics (envoy/network/filter.h), reduced to what weir runs.
//
// - Downstream bytes go through the filters in order, then to the upstream; upstream
//   bytes go through them in reverse order, then to the client.
// - A filter that returns StopIteration holds the bytes: they stay buffered (counting
//   toward per_connection_buffer_limit_bytes, past which reading stops), and the next
//   bytes to arrive run the chain again from its first filter with everything held, as
//   in Envoy. continue_*() passes what is held on to the next filter.
#include <cstdint>
#include <memory>
#include <string>

#include "common/result.h"
#include "proxy/http_filter.h"

namespace weir::extensions::network {

enum class FilterStatus { Continue, StopIteration };

// What a filter may ask of the proxied connection. Each filter gets its own.
class NetworkFilterCallbacks {
 public:
  virtual ~NetworkFilterCallbacks() = default;
  // Pass what this filter holds in that direction on to the next filter. From a later
  // event only (a timer, an http call answer): inside the filter's own callback, return
  // Continue instead. A no-op when this filter holds nothing.
  virtual void continue_downstream() = 0;
  virtual void continue_upstream() = 0;
  // Closes the proxied connection (both sides, unsent bytes dropped). `downstream`: the
  // filter asked to close the client's side (else the upstream's). Takes effect after
  // the current callback.
  virtual void close_connection(bool downstream) = 0;
  // Addresses, ids and byte counts of the connection (request.* fields stay empty).
  virtual const proxy::StreamInfo& stream_info() const = 0;
};

class NetworkFilter {
 public:
  virtual ~NetworkFilter() = default;
  // Before any byte: StopIteration delays the next filters (and the upstream connect)
  // until continue_downstream() or the next downstream bytes.
  virtual FilterStatus on_new_connection() = 0;
  // `data` is everything held in that direction; the filter may rewrite or drop it.
  virtual FilterStatus on_downstream_data(std::string& data, bool end_stream) = 0;
  virtual FilterStatus on_upstream_data(std::string& data, bool end_stream) = 0;
  // Each once, when that side's connection closed; `by_remote`: the peer closed it.
  virtual void on_downstream_close(bool by_remote) = 0;
  virtual void on_upstream_close(bool by_remote) = 0;
  // Once, when the proxied connection is over; the filter is destroyed right after.
  virtual void on_session_complete() = 0;
};

// Per worker: one filter per connection.
class NetworkFilterFactory {
 public:
  virtual ~NetworkFilterFactory() = default;
  virtual std::unique_ptr<NetworkFilter> create_filter(NetworkFilterCallbacks& callbacks) = 0;
};

// Process-wide, built and validated on the main thread; each worker asks it for its own
// factory, on the worker's thread.
class NetworkFilterDefinition {
 public:
  virtual ~NetworkFilterDefinition() = default;
  virtual Result<std::unique_ptr<NetworkFilterFactory>> create_worker_factory(
      proxy::WorkerContext& worker) = 0;
  // Called on the main thread after every worker has dropped its factory.
  virtual void shutdown() {}
};

}  // namespace weir::extensions::network
