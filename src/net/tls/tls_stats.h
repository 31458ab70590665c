#pragma once
// Envoy's TLS stats of a listener (listener.<address>.ssl.*) or a cluster
// (cluster.<name>.ssl.*).
#include <string>

#include "stats/stats_store.h"

namespace weir::net::tls {

struct TlsStats {
  stats::Counter& handshake;            // handshakes that succeeded
  stats::Counter& connection_error;     // handshakes that failed (bad input, no shared cipher...)
  stats::Counter& no_certificate;       // succeeded without a peer certificate
  stats::Counter& fail_verify_error;    // the peer's certificate did not verify
  stats::Counter& fail_verify_san;      // ... verified, but matched no SAN matcher
  stats::Counter& fail_verify_no_cert;  // a required client certificate was not sent
  stats::Counter& handshake_timeout;    // weir's: transport_socket_connect_timeout expired
  stats::Counter& session_reused;       // handshakes that resumed a session
  stats::Counter& versions_tls1_0;
  stats::Counter& versions_tls1_1;
  stats::Counter& versions_tls1_2;
  stats::Counter& versions_tls1_3;
  // ssl.ciphers.<name>, ssl.curves.<name>, ssl.sigalgs.<name>: made on first use (the
  // names are OpenSSL's finite sets, so the number of stats is bounded).
  stats::StatsStore* store = nullptr;
  std::string prefix;  // "listener.127.0.0.1_8443.ssl."

  // `prefix`: "listener.127.0.0.1_8443." or "cluster.backend."
  static TlsStats create(stats::StatsStore& store, const std::string& prefix) {
    const std::string p = prefix + "ssl.";
    return TlsStats{store.counter(p + "handshake"),
                    store.counter(p + "connection_error"),
                    store.counter(p + "no_certificate"),
                    store.counter(p + "fail_verify_error"),
                    store.counter(p + "fail_verify_san"),
                    store.counter(p + "fail_verify_no_cert"),
                    store.counter(p + "handshake_timeout"),
                    store.counter(p + "session_reused"),
                    store.counter(p + "versions.TLSv1"),
                    store.counter(p + "versions.TLSv1.1"),
                    store.counter(p + "versions.TLSv1.2"),
                    store.counter(p + "versions.TLSv1.3"),
                    &store,
                    p};
  }
};

}  // namespace weir::net::tls
