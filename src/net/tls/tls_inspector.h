#pragma once
// Envoy's tls_inspector listener filter, as far as weir needs it: on a listener with TLS
// and plaintext filter chains, it looks at an accepted connection's first byte (without
// reading it) and says which transport the client speaks. A TLS connection starts with a
// handshake record (content type 22); no HTTP request or HTTP/2 preface does. SNI and ALPN
// are read later by OpenSSL, which picks the TLS chain.
#include <chrono>
#include <functional>
#include <string>

#include "event/event_loop.h"
#include "stats/stats_store.h"

namespace weir::net::tls {

// Envoy's names: listener.<address>.tls_inspector.* and the listener's pre-connection
// timeout counter.
struct TlsInspectorStats {
  stats::Counter& tls_found;
  stats::Counter& tls_not_found;
  stats::Counter& downstream_pre_cx_timeout;

  // `prefix`: "listener.127.0.0.1_8443."
  static TlsInspectorStats create(stats::StatsStore& store, const std::string& prefix) {
    return {store.counter(prefix + "tls_inspector.tls_found"),
            store.counter(prefix + "tls_inspector.tls_not_found"),
            store.counter(prefix + "downstream_pre_cx_timeout")};
  }
};

struct TlsInspectorConfig {
  TlsInspectorStats stats;
  std::chrono::milliseconds timeout{15000};  // listener_filters_timeout
  bool continue_on_timeout = false;          // continue_on_listener_filters_timeout
};

class TlsInspector {
 public:
  enum class Transport { Tls, RawBuffer, Closed };
  // Called once, from the loop (never from the constructor). On Closed the fd is already
  // closed (the client hung up, the socket failed, or the timeout passed).
  using Done = std::function<void(Transport)>;

  TlsInspector(event::EventLoop& loop, int fd, const TlsInspectorConfig& config, Done done);
  ~TlsInspector();
  TlsInspector(const TlsInspector&) = delete;
  TlsInspector& operator=(const TlsInspector&) = delete;

 private:
  void on_events(uint32_t events);
  void finish(Transport transport);

  event::EventLoop& loop_;
  int fd_;
  const TlsInspectorConfig& config_;
  Done done_;
  event::EventLoop::TimerId timer_ = 0;
  bool finished_ = false;
};

}  // namespace weir::net::tls
