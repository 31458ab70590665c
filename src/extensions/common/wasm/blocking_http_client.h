#pragma once
// A small blocking HTTP/1.1 client for fetching plugin code at load time on the main
// thread (code.remote, OCI registries, `weir plugin push/pull`): one request per
// connection, a deadline for the whole exchange, a cap on the response body, redirects
// never followed (the caller sees the 3xx). Not for the request path: workers use the
// cluster manager's non-blocking pools.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace weir::net::tls {
class ClientContext;
}

namespace weir::extensions::wasm {

struct HttpUrl {
  bool https = false;
  std::string host;  // as written (a name, an IPv4 address, or an IPv6 one without brackets)
  uint16_t port = 0;
  std::string path_and_query = "/";
  std::string authority() const;  // the Host header: host[:port]
};
Result<HttpUrl> parse_http_url(std::string_view url);

// Where the bytes go: a cluster's first endpoint and its TLS context (none: plaintext), or
// the URL's own host, over TLS verified against the system's CAs when the URL is https.
struct HttpRoute {
  std::string address;  // empty: the URL's host and port
  uint16_t port = 0;
  bool use_cluster = false;  // address/port/cluster_tls below decide, not the URL
  std::shared_ptr<net::tls::ClientContext> cluster_tls;  // null with use_cluster: plaintext
};

struct HttpRequest {
  std::string method = "GET";
  HttpUrl url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The first value of `name` (lower case), or "".
  std::string header(std::string_view name) const;
};

// Fails (never throws) on a connection error, a TLS failure, a malformed response, a body
// over `max_body_bytes`, or when `timeout` passes first.
Result<HttpResponse> http_exchange(const HttpRoute& route, const HttpRequest& request,
                                   std::chrono::milliseconds timeout, uint64_t max_body_bytes);

}  // namespace weir::extensions::wasm
