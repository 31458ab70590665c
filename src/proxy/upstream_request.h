#pragma once
// One request to a cluster, whichever protocol the cluster speaks: the interface an
// ActiveStream (or a plugin's call) drives. UpstreamRequest::create picks the
// implementation from the cluster's protocol options: Http1UpstreamRequest (a pooled
// HTTP/1.1 connection per request) or Http2UpstreamRequest (a stream on a multiplexed
// HTTP/2 connection). Both report through the same Callbacks.
#include <memory>
#include <string>
#include <string_view>

#include "event/event_loop.h"
#include "http/header_map.h"
#include "http/http1_parser.h"
#include "net/tls/tls_info.h"

namespace weir::proxy {

class UpstreamPool;

enum class BodyFraming { None, ContentLength, Chunked };
// Why an upstream request failed: ConnectFailure, Reset (the connection broke) and
// ProtocolError (a malformed response) on both protocols; RemoteReset and
// RemoteRefusedStreamReset are HTTP/2 RST_STREAMs (refused: the upstream did not process
// the request, as REFUSED_STREAM or a stream above a GOAWAY's last_stream_id).
enum class UpstreamFailure {
  ConnectFailure,
  Reset,
  ProtocolError,
  RemoteReset,
  RemoteRefusedStreamReset
};

class UpstreamRequest {
 public:
  class Callbacks {
   public:
    virtual ~Callbacks() = default;
    // `tls`: the connection's TLS session, null for plaintext.
    virtual void on_upstream_connected(std::string_view endpoint, const net::tls::TlsInfo* tls) = 0;
    // A 101 to an upgrade request comes with end_stream == false: what follows on the
    // connection arrives through on_upstream_body, until the upstream closes it.
    virtual void on_upstream_headers(http::HeaderMap& headers, const http::MessageHead& head,
                                     bool end_stream) = 0;
    virtual void on_upstream_body(std::string_view data, bool end_stream) = 0;
    virtual void on_upstream_trailers(http::HeaderMap& trailers) = 0;
    virtual void on_upstream_complete() = 0;
    virtual void on_upstream_failure(UpstreamFailure kind, std::string_view reason) = 0;
    // Flow control: what was written upstream went over the connection's high watermark /
    // back under its low one (stop / resume feeding the request body).
    virtual void on_upstream_above_write_high_watermark() {}
    virtual void on_upstream_below_write_low_watermark() {}
  };

  // The request for `pool`'s cluster: HTTP/2 when the cluster's protocol options say so
  // (use_downstream_protocol_config: when `downstream_http2`), else HTTP/1.1.
  static std::unique_ptr<UpstreamRequest> create(UpstreamPool& pool, Callbacks& callbacks,
                                                 event::EventLoop& loop,
                                                 bool downstream_http2 = false);
  virtual ~UpstreamRequest() = default;

  virtual bool http2() const = 0;
  // Acquires a connection (or a stream); failures are reported through
  // on_upstream_failure (deferred).
  virtual void start(bool head_request) = 0;
  // The request carries Upgrade headers: a 101 turns the connection into a tunnel (body
  // bytes are then relayed raw both ways). Without this a 101 is a protocol error. Over
  // HTTP/2 the request fails (no extended CONNECT upstream yet).
  virtual void expect_upgrade() = 0;
  // The request head from a header map (:method, :path, :authority and the fields). HTTP/1
  // writes it with `framing`; HTTP/2 frames it, less the hop-by-hop fields, with :scheme
  // set from the cluster's transport.
  virtual void send_headers(const http::HeaderMap& headers, BodyFraming framing,
                            bool end_stream) = 0;
  // HTTP/1 only (http2() false): a head the caller wrote (http1_writer); `write_head`
  // appends it to the string it is given.
  template <typename WriteHead>
  void send_head(WriteHead&& write_head, BodyFraming framing, bool end_stream) {
    std::string& out = head_buffer();
    write_head(out);
    write_head_buffer(framing, end_stream);
  }
  virtual void send_body(std::string_view data, bool end_stream) = 0;
  virtual void send_trailers(const http::HeaderMap& trailers) = 0;
  // Stops everything (HTTP/1: the connection is closed; HTTP/2: the stream is reset). No
  // callback runs after it.
  virtual void abort() = 0;
  // Flow control: stop / resume reading the response. Calls nest: reading resumes once
  // every stop has been matched by a resume.
  virtual void read_disable(bool disable) = 0;

 protected:
  virtual std::string& head_buffer() = 0;
  virtual void write_head_buffer(BodyFraming framing, bool end_stream) = 0;
};

}  // namespace weir::proxy
