#include "proxy/tls_config.h"

#include <cctype>

namespace weir::proxy {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A SAN matches as Envoy's StringMatcher does.
std::function<bool(std::string_view)> string_matcher(const config::StringMatch& match) {
  using Kind = config::StringMatch::Kind;
  return [match](std::string_view value) {
    if (match.kind == Kind::Regex) return match.regex->full_match(value);
    const std::string subject = match.ignore_case ? lower(value) : std::string(value);
    const std::string pattern = match.ignore_case ? lower(match.value) : match.value;
    switch (match.kind) {
      case Kind::Exact:
        return subject == pattern;
      case Kind::Prefix:
        return subject.starts_with(pattern);
      case Kind::Suffix:
        return subject.ends_with(pattern);
      case Kind::Contains:
        return subject.find(pattern) != std::string::npos;
      case Kind::Regex:
        break;
    }
    return false;
  };
}

net::tls::DataSource data_source(const config::TlsDataSource& source) {
  return {source.bytes, source.filename};
}

net::tls::CommonOptions common_options(const config::CommonTlsContextConfig& common) {
  net::tls::CommonOptions out;
  for (const auto& certificate : common.tls_certificates) {
    out.tls_certificates.push_back(
        {data_source(certificate.certificate_chain), data_source(certificate.private_key)});
  }
  out.alpn_protocols = common.alpn_protocols;
  out.tls_minimum_protocol_version = common.tls_minimum_protocol_version;
  out.tls_maximum_protocol_version = common.tls_maximum_protocol_version;
  out.cipher_suites = common.cipher_suites;
  out.ecdh_curves = common.ecdh_curves;
  if (common.trusted_ca) out.trusted_ca = data_source(*common.trusted_ca);
  for (const auto& matcher : common.match_typed_subject_alt_names) {
    using From = config::SubjectAltNameMatcher::Type;
    using To = net::tls::SanMatcher::Type;
    const To type = matcher.san_type == From::Dns     ? To::Dns
                    : matcher.san_type == From::Uri   ? To::Uri
                    : matcher.san_type == From::Email ? To::Email
                                                      : To::IpAddress;
    out.match_typed_subject_alt_names.push_back({type, string_matcher(matcher.matcher)});
  }
  return out;
}

}  // namespace

std::vector<net::tls::ServerOptions> server_tls_options(
    const std::vector<config::FilterChainConfig>& chains) {
  std::vector<net::tls::ServerOptions> out;
  for (const auto& chain : chains) {
    if (!chain.tls) continue;
    net::tls::ServerOptions options;
    options.common = common_options(chain.tls->common);
    options.require_client_certificate = chain.tls->require_client_certificate;
    options.server_names = chain.server_names;
    options.application_protocols = chain.application_protocols;
    options.handshake_timeout = chain.transport_socket_connect_timeout;
    for (const auto& key : chain.tls->session_ticket_keys) {
      options.session_ticket_keys.push_back(data_source(key));
    }
    options.disable_stateless_session_resumption = chain.tls->disable_stateless_session_resumption;
    options.disable_stateful_session_resumption = chain.tls->disable_stateful_session_resumption;
    if (chain.tls->session_timeout) options.session_timeout = *chain.tls->session_timeout;
    options.location = chain.location.to_string();
    out.push_back(std::move(options));
  }
  return out;
}

net::tls::ClientOptions client_tls_options(const config::UpstreamTlsContextConfig& tls) {
  return {common_options(tls.common), tls.sni};
}

}  // namespace weir::proxy
