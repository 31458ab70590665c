#include "extensions/common/wasm/blocking_http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "net/host_lookup.h"
#include "net/tls/tls_context.h"
#include "net/tls/tls_socket.h"

namespace weir::extensions::wasm {

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxHeadBytes = 64 * 1024;

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A TLS context verifying servers against the system's CAs and the URL's host name, for
// connections that name no cluster (OCI registries without one, the plugin CLI).
SSL_CTX* system_ca_context() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    if (!c) return c;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(c);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    return c;
  }();
  return ctx;
}

class Connection {
 public:
  explicit Connection(Clock::time_point deadline) : deadline_(deadline) {}
  ~Connection() {
    tls_.reset();
    if (fd_ >= 0) ::close(fd_);
  }

  Result<bool> open(const std::string& host, uint16_t port) {
    // The attempt's deadline covers the name lookup too.
    auto found = net::lookup_host(host, std::to_string(port), deadline_);
    if (!found.ok()) return Error{found.error()};
    std::string last_error = "no address";
    for (addrinfo* ai = found.value().get(); ai; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
        fd_ = fd;
        auto ready = wait(POLLOUT);
        if (ready.ok()) {
          int error = 0;
          socklen_t len = sizeof error;
          getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len);
          if (error == 0) break;
          last_error = std::strerror(error);
        } else {
          last_error = ready.error();
        }
        ::close(fd_);
        fd_ = -1;
        continue;
      }
      last_error = std::strerror(errno);
      ::close(fd);
    }
    if (fd_ < 0) {
      return Error{"cannot connect to " + host + ":" + std::to_string(port) + ": " + last_error};
    }
    return true;
  }

  Result<bool> start_tls(const net::tls::ClientContext* cluster_tls, const std::string& host) {
    if (cluster_tls) {
      tls_ = cluster_tls->new_socket(fd_);
    } else {
      SSL_CTX* ctx = system_ca_context();
      SSL* ssl = ctx ? SSL_new(ctx) : nullptr;
      if (!ssl) return Error{"cannot create a TLS session"};
      SSL_set_fd(ssl, fd_);
      SSL_set_connect_state(ssl);
      // The certificate must name the URL's host: an address among its IP SANs, a name
      // among its DNS ones (SNI is sent for names only, RFC 6066).
      in6_addr address{};
      const bool literal = inet_pton(AF_INET, host.c_str(), &address) == 1 ||
                           inet_pton(AF_INET6, host.c_str(), &address) == 1;
      if (literal) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
      } else {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
      }
      tls_ = std::make_unique<net::tls::TlsSocket>(ssl, nullptr, nullptr);
    }
    if (!tls_) return Error{"cannot create a TLS session"};
    for (;;) {
      auto step = tls_->handshake();
      if (step == net::tls::TlsSocket::Step::Done) return true;
      if (step == net::tls::TlsSocket::Step::Failed) {
        return Error{"TLS handshake failed: " + tls_->error()};
      }
      auto ready = wait(POLLIN | POLLOUT);
      if (!ready.ok()) return Error{"TLS handshake: " + ready.error()};
    }
  }

  Result<bool> send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = tls_ ? tls_->write(data.data(), data.size())
                       : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        auto ready = wait(POLLOUT | (tls_ ? POLLIN : 0));
        if (!ready.ok()) return ready;
        continue;
      }
      return Error{std::string("sending failed: ") + (n < 0 ? std::strerror(errno) : "closed")};
    }
    return true;
  }

  // Appends what arrives to `out`; 0 at the end of the stream.
  Result<size_t> receive(std::string& out) {
    char buffer[16384];
    for (;;) {
      ssize_t n = tls_ ? tls_->read(buffer, sizeof buffer) : ::recv(fd_, buffer, sizeof buffer, 0);
      if (n >= 0) {
        out.append(buffer, static_cast<size_t>(n));
        return static_cast<size_t>(n);
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        auto ready = wait(POLLIN);
        if (!ready.ok()) return Error{ready.error()};
        continue;
      }
      return Error{std::string("receiving failed: ") + std::strerror(errno)};
    }
  }

 private:
  Result<bool> wait(short events) {
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) return Error{"timed out"};
      pollfd p{fd_, events, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return Error{std::string("poll: ") + std::strerror(errno)};
    }
  }

  Clock::time_point deadline_;
  int fd_ = -1;
  std::unique_ptr<net::tls::TlsSocket> tls_;
};

// Parses the status line and headers of `head` (without the blank line).
Result<HttpResponse> parse_head(std::string_view head) {
  HttpResponse response;
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    return Error{"not an HTTP/1 response"};
  }
  const std::string_view code = status_line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Error{"malformed status line"};
  }
  response.status = std::stoi(std::string(code));
  while (eol != std::string_view::npos) {
    const size_t start = eol + 2;
    eol = head.find("\r\n", start);
    std::string_view line = head.substr(start, eol == std::string_view::npos ? eol : eol - start);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return Error{"malformed header line"};
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    response.headers.emplace_back(lower(line.substr(0, colon)), std::string(value));
  }
  return response;
}

// Decodes a complete chunked body in `raw`; nullopt-like error when incomplete ("more").
enum class Chunked { Done, More, Bad };
Chunked decode_chunked(const std::string& raw, std::string& out, uint64_t max_bytes) {
  out.clear();
  size_t at = 0;
  for (;;) {
    const size_t eol = raw.find("\r\n", at);
    if (eol == std::string::npos) return Chunked::More;
    uint64_t size = 0;
    size_t digits = 0;
    for (size_t i = at; i < eol && std::isxdigit(static_cast<unsigned char>(raw[i])); ++i) {
      if (++digits > 15) return Chunked::Bad;
      size = size * 16 + static_cast<uint64_t>(std::stoi(std::string(1, raw[i]), nullptr, 16));
    }
    if (digits == 0) return Chunked::Bad;
    if (out.size() + size > max_bytes) return Chunked::Bad;
    at = eol + 2;
    if (size == 0) return raw.find("\r\n", at) == std::string::npos ? Chunked::More : Chunked::Done;
    if (raw.size() < at + size + 2) return Chunked::More;
    out.append(raw, at, size);
    at += size + 2;
  }
}

}  // namespace

std::string HttpUrl::authority() const {
  std::string name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if ((https && port == 443) || (!https && port == 80)) return name;
  return name + ":" + std::to_string(port);
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  HttpUrl out;
  if (url.starts_with("https://")) {
    out.https = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return Error{"'" + std::string(url) + "' is not an http:// or https:// URL"};
  }
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) out.path_and_query = std::string(url.substr(slash));
  if (authority.find('@') != std::string_view::npos) {
    return Error{"credentials in a URL are not accepted (use the registry auth file)"};
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{"malformed IPv6 address in the URL"};
    out.host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return Error{"malformed URL authority"};
      port_text = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return Error{"the URL has no host"};
  out.port = out.https ? 443 : 80;
  if (!port_text.empty()) {
    uint32_t port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || (port = port * 10 + static_cast<uint32_t>(c - '0')) > 65535) {
        return Error{"bad port in the URL"};
      }
    }
    if (port == 0) return Error{"bad port in the URL"};
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

Result<HttpResponse> http_exchange(const HttpRoute& route, const HttpRequest& request,
                                   std::chrono::milliseconds timeout, uint64_t max_body_bytes) {
  const auto deadline = Clock::now() + timeout;
  Connection connection(deadline);
  const std::string& host = route.use_cluster ? route.address : request.url.host;
  const uint16_t port = route.use_cluster ? route.port : request.url.port;
  if (auto opened = connection.open(host, port); !opened.ok()) return Error{opened.error()};
  const bool tls = route.use_cluster ? route.cluster_tls != nullptr : request.url.https;
  if (tls) {
    auto started = connection.start_tls(route.cluster_tls.get(), request.url.host);
    if (!started.ok()) return Error{started.error()};
  }

  std::string head = request.method + " " + request.url.path_and_query +
                     " HTTP/1.1\r\nHost: " + request.url.authority() +
                     "\r\nConnection: close\r\nUser-Agent: weir\r\n";
  for (const auto& [name, value] : request.headers) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
    head += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  head += "\r\n";
  if (auto sent = connection.send(head); !sent.ok()) return Error{sent.error()};
  if (auto sent = connection.send(request.body); !sent.ok()) return Error{sent.error()};

  std::string raw;
  size_t head_end = std::string::npos;
  while ((head_end = raw.find("\r\n\r\n")) == std::string::npos) {
    if (raw.size() > kMaxHeadBytes) return Error{"the response head is over 64 KiB"};
    auto got = connection.receive(raw);
    if (!got.ok()) return Error{got.error()};
    if (got.value() == 0) return Error{"the connection closed before a response"};
  }
  auto parsed = parse_head(std::string_view(raw).substr(0, head_end));
  if (!parsed.ok()) return parsed;
  HttpResponse response = std::move(parsed.value());
  std::string body = raw.substr(head_end + 4);
  raw.clear();
  const bool no_body = request.method == "HEAD" || response.status == 204 ||
                       response.status == 304 || response.status / 100 == 1;
  if (no_body) return response;

  const std::string length_text = response.header("content-length");
  const bool chunked =
      lower(response.header("transfer-encoding")).find("chunked") != std::string::npos;
  const std::string too_big =
      "the response body is over " + std::to_string(max_body_bytes) + " bytes (the limit)";
  if (chunked) {
    for (;;) {
      switch (decode_chunked(body, response.body, max_body_bytes)) {
        case Chunked::Done:
          return response;
        case Chunked::Bad:
          return Error{response.body.size() >= max_body_bytes ? too_big : "malformed chunked body"};
        case Chunked::More:
          break;
      }
      if (body.size() > max_body_bytes + kMaxHeadBytes) return Error{too_big};
      auto got = connection.receive(body);
      if (!got.ok()) return Error{got.error()};
      if (got.value() == 0) return Error{"the connection closed inside the body"};
    }
  }
  if (!length_text.empty()) {
    uint64_t length = 0;
    for (char c : length_text) {
      if (c < '0' || c > '9' || length > (uint64_t{1} << 50)) return Error{"bad content-length"};
      length = length * 10 + static_cast<uint64_t>(c - '0');
    }
    if (length > max_body_bytes) return Error{too_big};
    body.reserve(length);
    while (body.size() < length) {
      auto got = connection.receive(body);
      if (!got.ok()) return Error{got.error()};
      if (got.value() == 0) return Error{"the connection closed inside the body"};
    }
    body.resize(length);
    response.body = std::move(body);
    return response;
  }
  for (;;) {  // delimited by the end of the connection
    if (body.size() > max_body_bytes) return Error{too_big};
    auto got = connection.receive(body);
    if (!got.ok()) return Error{got.error()};
    if (got.value() == 0) break;
  }
  response.body = std::move(body);
  return response;
}

}  // namespace weir::extensions::wasm
