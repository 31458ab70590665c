#pragma once
// What a TLS context is built from, as plain data (src/proxy/tls_config fills it from
// Envoy's DownstreamTlsContext / UpstreamTlsContext); the net layer knows no config.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::net::tls {

// A certificate, key or CA bundle: its bytes, and the file they came from ("" when
// inline), which is watched for changes.
struct DataSource {
  std::string bytes;
  std::string filename;
};

struct Certificate {
  DataSource certificate_chain;
  DataSource private_key;
};

struct SanMatcher {
  enum class Type { Dns, Uri, Email, IpAddress };
  Type san_type = Type::Dns;
  std::function<bool(std::string_view)> matches;
};

struct CommonOptions {
  std::vector<Certificate> tls_certificates;
  std::vector<std::string> alpn_protocols;
  int tls_minimum_protocol_version = 0;  // TLS1_x_VERSION; 0: TLS 1.2 (Envoy's default)
  int tls_maximum_protocol_version = 0;  // 0: TLS 1.3
  std::vector<std::string> cipher_suites;
  std::vector<std::string> ecdh_curves;
  std::optional<DataSource> trusted_ca;
  std::vector<SanMatcher> match_typed_subject_alt_names;
};

// One filter chain of a TLS listener.
struct ServerOptions {
  CommonOptions common;
  bool require_client_certificate = false;
  std::vector<std::string> server_names;           // lower case; "*.example.com" wildcards
  std::vector<std::string> application_protocols;  // ALPN names the client must offer
  std::chrono::milliseconds handshake_timeout{10000};
  // Session resumption (Envoy's DownstreamTlsContext fields): ticket keys of 80 bytes
  // (none: random ones per context), and either kind switched off.
  std::vector<DataSource> session_ticket_keys;
  bool disable_stateless_session_resumption = false;
  bool disable_stateful_session_resumption = false;
  std::chrono::seconds session_timeout{0};  // 0: OpenSSL's default (2 hours)
  std::string location;                     // file:line of the chain, for errors
};

struct ClientOptions {
  CommonOptions common;
  std::string sni;
};

}  // namespace weir::net::tls
