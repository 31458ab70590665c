#pragma once
// OpenSSL contexts built from Envoy's TLS config. A listener's ServerContext holds one
// context per filter chain and picks one by the server name (SNI) in the ClientHello, as
// Envoy's filter_chain_match.server_names does; certificates read from files are reloaded
// when the files change. A cluster's ClientContext verifies the upstream (trusted_ca, SAN
// matchers) and presents a client certificate when configured.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "net/tls/tls_options.h"
#include "net/tls/tls_socket.h"
#include "net/tls/tls_stats.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace weir::net::tls {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const;
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

class ServerContext {
 public:
  // One entry per filter chain. Errors name the chain's file:line.
  static Result<std::unique_ptr<ServerContext>> create(std::vector<ServerOptions> chains,
                                                       TlsStats stats);
  ~ServerContext();

  // A TLS session for an accepted socket (null if OpenSSL has no memory for one).
  std::unique_ptr<TlsSocket> new_socket(int fd);
  // How long a client has to finish its handshake (the longest of the chains').
  std::chrono::milliseconds handshake_timeout() const { return handshake_timeout_; }
  // Rebuilds the contexts whose certificate, key or CA files changed since they were
  // read (any thread). A file that does not load keeps the old context, logged.
  void reload_changed_files();

  struct Snapshot;  // the chains' contexts at one moment: shared by handshakes in flight

 private:
  ServerContext(std::vector<ServerOptions> chains, TlsStats stats);

  const std::vector<ServerOptions> chains_;
  TlsStats stats_;
  std::chrono::milliseconds handshake_timeout_{10000};
  std::atomic<std::shared_ptr<const Snapshot>> current_;
};

class ClientContext : public TlsSocket::Owner, public std::enable_shared_from_this<ClientContext> {
 public:
  static Result<std::shared_ptr<ClientContext>> create(ClientOptions tls, TlsStats stats,
                                                       const std::string& what);
  std::unique_ptr<TlsSocket> new_socket(int fd) const;
  bool check_peer(SSL* ssl, TlsInfo& info, std::string& error) const override;
  // As ServerContext's: a changed client certificate, key or CA file is used by the next
  // connection (any thread).
  void reload_changed_files();

 private:
  ClientContext(ClientOptions tls, TlsStats stats)
      : config_(std::move(tls)), stats_(std::move(stats)) {}
  struct Loaded;
  Result<std::shared_ptr<const Loaded>> load(CommonOptions common) const;

  const ClientOptions config_;  // as configured (file contents as first read)
  std::string what_;            // the cluster, for errors
  mutable TlsStats stats_;
  std::atomic<std::shared_ptr<const Loaded>> current_;
};

}  // namespace weir::net::tls
