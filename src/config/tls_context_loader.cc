// extensions.transport_sockets.tls.v3 DownstreamTlsContext and UpstreamTlsContext: the
// certificates, CA, ALPN, versions and ciphers weir hands to OpenSSL. Every field weir does
// not implement and whose absence would weaken security is refused (unimplemented_fields.cc);
// certificates are parsed later, when the server builds its OpenSSL contexts.
#include <openssl/tls1.h>

#include <fstream>
#include <iterator>

#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

TlsDataSource load_tls_data_source(const ConfigNode& data_source) {
  TlsDataSource result;
  if (data_source.has("filename")) result.filename = data_source.field("filename").as_string();
  result.bytes = load_data_source(data_source);
  if (result.bytes.empty()) data_source.fail("is empty");
  return result;
}

int load_tls_version(const ConfigNode& version) {
  enum class V { Auto, V10, V11, V12, V13 };
  switch (version.as_enum<V>({{"TLS_AUTO", V::Auto},
                              {"TLSv1_0", V::V10},
                              {"TLSv1_1", V::V11},
                              {"TLSv1_2", V::V12},
                              {"TLSv1_3", V::V13}})) {
    case V::Auto:
      return 0;
    case V::V10:
      return TLS1_VERSION;
    case V::V11:
      return TLS1_1_VERSION;
    case V::V12:
      return TLS1_2_VERSION;
    case V::V13:
      return TLS1_3_VERSION;
  }
  return 0;
}

std::vector<std::string> load_strings(const ConfigNode& list) {
  std::vector<std::string> result;
  for (const ConfigNode& item : list.items()) result.push_back(item.as_nonempty_string());
  return result;
}

void load_validation_context(const ConfigNode& validation, CommonTlsContextConfig& common) {
  validation.expect_fields(names::kCertificateValidationContext,
                           {"trusted_ca", "match_typed_subject_alt_names"});
  if (validation.has("trusted_ca")) {
    common.trusted_ca = load_tls_data_source(validation.field("trusted_ca"));
  }
  for (const ConfigNode& matcher : validation.field("match_typed_subject_alt_names").items()) {
    matcher.expect_fields(names::kSubjectAltNameMatcher, {"san_type", "matcher"});
    SubjectAltNameMatcher san;
    using Type = SubjectAltNameMatcher::Type;
    san.san_type = matcher.required("san_type")
                       .as_enum<Type>({{"DNS", Type::Dns},
                                       {"URI", Type::Uri},
                                       {"EMAIL", Type::Email},
                                       {"IP_ADDRESS", Type::IpAddress}});
    san.matcher = load_string_matcher(matcher.required("matcher"));
    common.match_typed_subject_alt_names.push_back(std::move(san));
  }
  if (!common.match_typed_subject_alt_names.empty() && !common.trusted_ca) {
    validation.fail(
        "match_typed_subject_alt_names needs trusted_ca: a certificate that is not verified "
        "proves no name");
  }
}

CommonTlsContextConfig load_common_tls_context(const ConfigNode& common_node) {
  common_node.expect_fields(names::kCommonTlsContext, {"tls_params", "tls_certificates",
                                                       "validation_context", "alpn_protocols"});
  CommonTlsContextConfig result;
  const ConfigNode params = common_node.field("tls_params");
  params.expect_fields(names::kTlsParameters,
                       {"tls_minimum_protocol_version", "tls_maximum_protocol_version",
                        "cipher_suites", "ecdh_curves"});
  if (params.has("tls_minimum_protocol_version")) {
    result.tls_minimum_protocol_version =
        load_tls_version(params.field("tls_minimum_protocol_version"));
  }
  if (params.has("tls_maximum_protocol_version")) {
    result.tls_maximum_protocol_version =
        load_tls_version(params.field("tls_maximum_protocol_version"));
  }
  if (result.tls_minimum_protocol_version != 0 && result.tls_maximum_protocol_version != 0 &&
      result.tls_minimum_protocol_version > result.tls_maximum_protocol_version) {
    params.fail("tls_minimum_protocol_version is above tls_maximum_protocol_version");
  }
  result.cipher_suites = load_strings(params.field("cipher_suites"));
  result.ecdh_curves = load_strings(params.field("ecdh_curves"));

  for (const ConfigNode& certificate : common_node.field("tls_certificates").items()) {
    certificate.expect_fields(names::kTlsCertificate, {"certificate_chain", "private_key"});
    TlsCertificateConfig loaded;
    loaded.certificate_chain = load_tls_data_source(certificate.required("certificate_chain"));
    loaded.private_key = load_tls_data_source(certificate.required("private_key"));
    result.tls_certificates.push_back(std::move(loaded));
  }
  if (result.tls_certificates.size() > 1) {
    common_node.field("tls_certificates")
        .fail(
            "weir takes one certificate per TLS context (one per filter chain: choose by SNI "
            "with filter_chain_match.server_names)");
  }
  if (common_node.has("validation_context")) {
    load_validation_context(common_node.field("validation_context"), result);
  }
  result.alpn_protocols = load_strings(common_node.field("alpn_protocols"));
  for (const std::string& protocol : result.alpn_protocols) {
    if (protocol.size() > 255) {
      common_node.field("alpn_protocols").fail("a protocol name is 255 bytes at most");
    }
  }
  return result;
}

// The TLS typed_config of a transport socket, or an absent node for raw_buffer. Any other
// socket fails: weir never degrades a connection to plaintext.
std::optional<ConfigNode> tls_typed_config(const ConfigNode& transport_socket,
                                           std::string_view tls_type, std::string_view what) {
  transport_socket.expect_fields(names::kTransportSocket, {"name", "typed_config"});
  const ConfigNode typed_config = transport_socket.field("typed_config");
  const std::string type = typed_config_type(typed_config);
  const std::string name = transport_socket.field("name").present()
                               ? transport_socket.field("name").as_string()
                               : std::string();
  // Envoy picks the socket by its typed_config type, else by name.
  const bool raw_buffer = type.empty() ? name == names::kRawBufferName || name == "raw_buffer"
                                       : type == names::kRawBuffer;
  if (raw_buffer) return std::nullopt;
  const bool tls = type.empty() ? name == names::kTlsName || name == "tls" : type == tls_type;
  if (tls) {
    if (!typed_config.present()) transport_socket.fail("a TLS transport socket needs typed_config");
    return typed_config_body(typed_config, tls_type);
  }
  transport_socket.fail(
      "transport socket \"" + name + "\"" + (type.empty() ? "" : " (" + type + ")") +
      " is not implemented by weir: refusing to start rather than run " + std::string(what) +
      " without it (weir implements " + std::string(names::kTlsName) + " with " +
      std::string(tls_type) + ", and raw_buffer)");
}

// Envoy's TlsSessionTicketKeys: each key 80 bytes (16 name, 32 HMAC secret, 32 AES key).
// session_ticket_keys and disable_stateless_session_resumption are one oneof.
void load_session_resumption(const ConfigNode& body, DownstreamTlsContextConfig& result) {
  if (body.has("session_ticket_keys")) {
    const ConfigNode keys = body.field("session_ticket_keys");
    keys.expect_fields(names::kTlsSessionTicketKeys, {"keys"});
    for (const ConfigNode& key : keys.required("keys").items()) {
      TlsDataSource loaded = load_tls_data_source(key);
      if (loaded.bytes.size() != 80) {
        key.fail("a session ticket key is 80 bytes (16 name, 32 HMAC secret, 32 AES key), got " +
                 std::to_string(loaded.bytes.size()));
      }
      result.session_ticket_keys.push_back(std::move(loaded));
    }
    if (result.session_ticket_keys.empty()) keys.fail("session_ticket_keys needs a key");
  }
  if (body.has("disable_stateless_session_resumption")) {
    const ConfigNode disable = body.field("disable_stateless_session_resumption");
    result.disable_stateless_session_resumption = disable.as_bool();
    if (body.has("session_ticket_keys")) {
      disable.fail(
          "session_ticket_keys and disable_stateless_session_resumption are one oneof: set one");
    }
  }
  if (body.has("disable_stateful_session_resumption")) {
    result.disable_stateful_session_resumption =
        body.field("disable_stateful_session_resumption").as_bool();
  }
  if (body.has("session_timeout")) {
    const ConfigNode timeout = body.field("session_timeout");
    const auto value = timeout.as_duration();
    // Envoy's range: under 2^32 seconds; OpenSSL counts whole seconds.
    if (value >= std::chrono::seconds(1ll << 32)) timeout.fail("must be under 2^32 seconds");
    result.session_timeout = std::chrono::duration_cast<std::chrono::seconds>(value);
  }
}

}  // namespace

std::optional<DownstreamTlsContextConfig> load_downstream_transport_socket(
    const ConfigNode& transport_socket, std::string_view what) {
  if (!transport_socket.present()) return std::nullopt;
  const std::optional<ConfigNode> tls =
      tls_typed_config(transport_socket, names::kDownstreamTlsContext, what);
  if (!tls) return std::nullopt;
  const ConfigNode& body = *tls;
  body.expect_fields(names::kDownstreamTlsContext,
                     {"common_tls_context", "require_client_certificate", "session_ticket_keys",
                      "disable_stateless_session_resumption", "disable_stateful_session_resumption",
                      "session_timeout"});
  DownstreamTlsContextConfig result;
  result.common = load_common_tls_context(body.field("common_tls_context"));
  if (result.common.tls_certificates.empty()) {
    body.fail("a DownstreamTlsContext needs common_tls_context.tls_certificates");
  }
  if (body.has("require_client_certificate")) {
    result.require_client_certificate = body.field("require_client_certificate").as_bool();
  }
  load_session_resumption(body, result);
  if (result.require_client_certificate && !result.common.trusted_ca) {
    body.field("require_client_certificate")
        .fail(
            "require_client_certificate needs common_tls_context.validation_context.trusted_ca "
            "to verify client certificates with");
  }
  return result;
}

std::optional<UpstreamTlsContextConfig> load_upstream_transport_socket(
    const ConfigNode& transport_socket, std::string_view what) {
  if (!transport_socket.present()) return std::nullopt;
  const std::optional<ConfigNode> tls =
      tls_typed_config(transport_socket, names::kUpstreamTlsContext, what);
  if (!tls) return std::nullopt;
  const ConfigNode& body = *tls;
  body.expect_fields(names::kUpstreamTlsContext, {"common_tls_context", "sni", "max_session_keys"});
  UpstreamTlsContextConfig result;
  result.common = load_common_tls_context(body.field("common_tls_context"));
  if (body.has("sni")) result.sni = body.field("sni").as_string();
  if (body.has("max_session_keys")) body.field("max_session_keys").as_uint(0, UINT32_MAX);
  if (!result.common.trusted_ca) {
    body.warn(
        "no validation_context.trusted_ca: the upstream's certificate is not verified "
        "(as in Envoy)");
  }
  return result;
}

}  // namespace weir::config
