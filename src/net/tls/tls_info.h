#pragma once
// What a finished TLS handshake established, as plain data: plugins (connection.* and
// upstream.* properties) and the access log read it without knowing OpenSSL.
#include <string>
#include <string_view>
#include <vector>

namespace weir::net::tls {

struct TlsInfo {
  // "TLSv1.3", as Envoy's connection.tls_version: OpenSSL's static name, never freed.
  std::string_view version;
  std::string requested_server_name;  // SNI ("" when the client sent none)
  std::string alpn;                   // the negotiated ALPN protocol, "" when none
  std::string cipher;                 // OpenSSL's name of the negotiated cipher
  bool peer_certificate_presented = false;
  bool peer_certificate_validated = false;  // presented and verified against trusted_ca
  std::string subject_peer_certificate;     // RFC 2253, as Envoy formats it
  std::vector<std::string> uri_san_peer_certificate;
  std::vector<std::string> dns_san_peer_certificate;
};

}  // namespace weir::net::tls
