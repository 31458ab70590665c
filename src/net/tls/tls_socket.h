#pragma once
// One TLS session over a non-blocking socket (OpenSSL with the socket as its BIO). The
// owning net::Connection drives handshake() until it is done, then reads and writes through
// read()/write(), which behave like recv()/send(): -1 with errno EAGAIN when OpenSSL wants
// the socket to become readable or writable (edge-triggered callers read until then).
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "net/tls/tls_info.h"

typedef struct ssl_st SSL;

namespace weir::net::tls {

struct TlsStats;

class TlsSocket {
 public:
  enum class Step { Done, Again, Failed };

  // What a context attaches to the session (it is kept alive by the socket).
  struct Owner {
    virtual ~Owner() = default;
    // Called once the handshake finished: extra checks (SAN matching); false fails it.
    virtual bool check_peer(SSL* ssl, TlsInfo& info, std::string& error) const { return true; }
  };

  // Takes ownership of `ssl`, already attached to `fd`. `stats` may be null.
  TlsSocket(SSL* ssl, std::shared_ptr<const Owner> owner, TlsStats* stats);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  Step handshake();
  bool handshake_done() const { return done_; }
  ssize_t read(char* buffer, size_t size);
  ssize_t write(const char* data, size_t size);
  // Sends close_notify, best effort (never waits for the peer's).
  void shutdown();
  // The handshake took too long: counted, then the caller closes.
  void on_handshake_timeout();

  const TlsInfo& info() const { return info_; }
  // The ALPN protocol the handshake chose ("" when none): which codec serves the bytes.
  std::string_view negotiated_protocol() const { return info_.alpn; }
  const std::string& error() const { return error_; }
  SSL* ssl() const { return ssl_; }

 private:
  void fill_info();
  void fail(std::string reason);

  SSL* ssl_;
  std::shared_ptr<const Owner> owner_;
  TlsStats* stats_;
  bool done_ = false;
  bool failed_ = false;
  TlsInfo info_;
  std::string error_;
};

}  // namespace weir::net::tls
