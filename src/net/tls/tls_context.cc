#include "net/tls/tls_context.h"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

namespace weir::net::tls {
namespace {

// Envoy's default TLS 1.2 ciphers (its BoringSSL list, in OpenSSL's names); TLS 1.3 suites
// are OpenSSL's defaults, as Envoy leaves them to BoringSSL.
constexpr const char* kDefaultCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
constexpr const char* kDefaultCurves = "X25519:P-256";

std::string openssl_error() {
  std::string reason;
  if (unsigned long err = ERR_get_error(); err != 0) {
    const char* text = ERR_reason_error_string(err);
    reason = text ? text : "error " + std::to_string(err);
  }
  ERR_clear_error();
  return reason.empty() ? "unknown OpenSSL error" : reason;
}

// An encrypted key must not make OpenSSL prompt on the terminal: no password.
int no_password(char*, int, int, void*) { return 0; }

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr memory_bio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

Status use_certificate(SSL_CTX* ctx, const Certificate& certificate) {
  BioPtr bio = memory_bio(certificate.certificate_chain.bytes);
  X509* leaf = bio ? PEM_read_bio_X509_AUX(bio.get(), nullptr, no_password, nullptr) : nullptr;
  if (!leaf) return Error{"certificate_chain holds no PEM certificate: " + openssl_error()};
  const int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (used != 1) return Error{"certificate_chain: " + openssl_error()};
  SSL_CTX_clear_chain_certs(ctx);
  while (X509* intermediate = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, intermediate) != 1) {
      X509_free(intermediate);
      return Error{"certificate_chain: " + openssl_error()};
    }
  }
  ERR_clear_error();  // the end of the PEM data
  BioPtr key_bio = memory_bio(certificate.private_key.bytes);
  EVP_PKEY* key =
      key_bio ? PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_password, nullptr) : nullptr;
  if (!key) {
    return Error{"private_key holds no unencrypted PEM private key: " + openssl_error()};
  }
  const int key_used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (key_used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Error{"private_key does not match the certificate: " + openssl_error()};
  }
  return Ok{};
}

Status use_trusted_ca(SSL_CTX* ctx, const DataSource& ca) {
  BioPtr bio = memory_bio(ca.bytes);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* cert = bio ? PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr) : nullptr) {
    const int added = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (added != 1) return Error{"trusted_ca: " + openssl_error()};
    ++count;
  }
  ERR_clear_error();
  if (count == 0) return Error{"trusted_ca holds no PEM certificate"};
  return Ok{};
}

// "[A|B]:C" (BoringSSL's equal-preference groups, which Envoy configs use) as OpenSSL's
// "A:B:C"; TLS 1.3 suites ("TLS_...") apart, as OpenSSL sets them separately.
void split_ciphers(const std::vector<std::string>& suites, std::string& tls12, std::string& tls13) {
  for (std::string suite : suites) {
    std::erase(suite, '[');
    std::erase(suite, ']');
    std::replace(suite.begin(), suite.end(), '|', ':');
    std::string& into = suite.starts_with("TLS_") ? tls13 : tls12;
    if (!into.empty()) into += ':';
    into += suite;
  }
}

std::string alpn_wire_format(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const std::string& protocol : protocols) {
    wire += static_cast<char>(protocol.size());
    wire += protocol;
  }
  return wire;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ":") + item;
  return out;
}

// What both sides set the same way: versions (TLS 1.2 to 1.3 unless configured, Envoy's
// defaults), ciphers, curves, certificate, CA, and the modes a non-blocking connection
// whose output buffer moves needs.
Result<SslCtxPtr> new_context(bool server, const CommonOptions& common) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return Error{"cannot create an OpenSSL context: " + openssl_error()};
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, common.tls_minimum_protocol_version != 0
                                       ? common.tls_minimum_protocol_version
                                       : TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, common.tls_maximum_protocol_version != 0
                                       ? common.tls_maximum_protocol_version
                                       : TLS1_3_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                             SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  std::string tls12, tls13;
  split_ciphers(common.cipher_suites, tls12, tls13);
  if (common.cipher_suites.empty()) tls12 = kDefaultCipherList;
  if (!tls12.empty() && SSL_CTX_set_cipher_list(c, tls12.c_str()) != 1) {
    return Error{"tls_params.cipher_suites: no usable cipher in \"" + tls12 + "\""};
  }
  if (tls12.empty()) SSL_CTX_set_cipher_list(c, "");  // only TLS 1.3 suites were listed
  if (!tls13.empty() && SSL_CTX_set_ciphersuites(c, tls13.c_str()) != 1) {
    return Error{"tls_params.cipher_suites: no usable TLS 1.3 suite in \"" + tls13 + "\""};
  }
  ERR_clear_error();
  const std::string curves = common.ecdh_curves.empty() ? kDefaultCurves : join(common.ecdh_curves);
  if (SSL_CTX_set1_groups_list(c, curves.c_str()) != 1) {
    return Error{"tls_params.ecdh_curves: unknown curve in \"" + curves + "\""};
  }
  for (const auto& certificate : common.tls_certificates) {
    if (auto used = use_certificate(c, certificate); !used.ok()) return Error{used.error()};
  }
  if (common.trusted_ca) {
    if (auto used = use_trusted_ca(c, *common.trusted_ca); !used.ok()) return Error{used.error()};
  }
  return ctx;
}

// A file's identity and version: a change of any of them means "read it again".
struct FileStamp {
  std::string path;
  int64_t mtime_ns = 0;
  int64_t size = -1;
  uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp(const std::string& path) {
  FileStamp s;
  s.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    s.size = st.st_size;
    s.inode = st.st_ino;
  }
  return s;
}

std::vector<DataSource*> file_sources(CommonOptions& common) {
  std::vector<DataSource*> sources;
  for (auto& certificate : common.tls_certificates) {
    sources.push_back(&certificate.certificate_chain);
    sources.push_back(&certificate.private_key);
  }
  if (common.trusted_ca) sources.push_back(&*common.trusted_ca);
  std::erase_if(sources, [](auto* source) { return source->filename.empty(); });
  return sources;
}

// A server chain's files: its common ones and its session ticket keys.
std::vector<DataSource*> file_sources(ServerOptions& tls) {
  std::vector<DataSource*> sources = file_sources(tls.common);
  for (auto& key : tls.session_ticket_keys) {
    if (!key.filename.empty()) sources.push_back(&key);
  }
  return sources;
}

// Envoy's session ticket key layout: 16 bytes of name, a 32-byte HMAC-SHA256 secret, a
// 32-byte AES-256 key.
struct TicketKey {
  unsigned char name[16];
  unsigned char hmac[32];
  unsigned char aes[32];
};
static_assert(sizeof(TicketKey) == 80);

}  // namespace

void SslCtxDeleter::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

// --- server ---

struct ServerContext::Snapshot : TlsSocket::Owner {
  struct Chain {
    ServerOptions tls;  // with the bytes this context was built from
    SslCtxPtr ctx;
    std::string alpn;  // wire format
    std::string cipher_list, ciphersuites;
    mutable std::vector<FileStamp> stamps;
    std::vector<TicketKey> ticket_keys;  // the first encrypts; empty: no tickets
  };
  std::vector<std::unique_ptr<Chain>> chains;

  // Envoy's order: an exact server name, then the longest wildcard suffix, then the chains
  // without server_names; among those, one whose application_protocols the client offers,
  // then one without application_protocols. Null: no chain takes this hello (refused).
  const Chain* select(std::string_view sni, const std::vector<std::string>& offered) const {
    std::vector<const Chain*> exact, wildcard, fallback;
    size_t wildcard_length = 0;
    for (const auto& chain : chains) {
      if (chain->tls.server_names.empty()) fallback.push_back(chain.get());
      for (const std::string& name : chain->tls.server_names) {
        if (name == sni) exact.push_back(chain.get());
        if (name.starts_with("*.") && sni.size() > name.size() - 1 &&
            sni.ends_with(std::string_view(name).substr(1)) && name.size() >= wildcard_length) {
          if (name.size() > wildcard_length) wildcard.clear();
          wildcard.push_back(chain.get());
          wildcard_length = name.size();
        }
      }
    }
    const auto& candidates = !exact.empty() ? exact : !wildcard.empty() ? wildcard : fallback;
    const Chain* without_alpn = nullptr;
    for (const Chain* chain : candidates) {
      const auto& wanted = chain->tls.application_protocols;
      if (wanted.empty()) without_alpn = chain;
      for (const std::string& protocol : wanted) {
        if (std::find(offered.begin(), offered.end(), protocol) != offered.end()) return chain;
      }
    }
    return without_alpn;
  }
};

namespace {

// The host name in a ClientHello's server_name extension ("" when absent or malformed).
std::string client_hello_server_name(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t size = 0;
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &size) || size < 5) return "";
  const size_t list = (size_t{p[0]} << 8) | p[1];
  if (list + 2 != size || p[2] != TLSEXT_NAMETYPE_host_name) return "";
  const size_t length = (size_t{p[3]} << 8) | p[4];
  if (length + 5 > size) return "";
  std::string name(reinterpret_cast<const char*>(p + 5), length);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

// The protocol names in a ClientHello's ALPN extension (none when absent or malformed).
std::vector<std::string> client_hello_alpn(SSL* ssl) {
  std::vector<std::string> protocols;
  const unsigned char* p = nullptr;
  size_t size = 0;
  if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                 &size) ||
      size < 2 || ((size_t{p[0]} << 8) | p[1]) + 2 != size) {
    return protocols;
  }
  for (size_t i = 2; i < size;) {
    const size_t length = p[i];
    if (length == 0 || i + 1 + length > size) return {};
    protocols.emplace_back(reinterpret_cast<const char*>(p + i + 1), length);
    i += 1 + length;
  }
  return protocols;
}

// Chooses the filter chain by SNI and ALPN before OpenSSL picks a version, cipher or
// certificate, and gives the session that chain's context and settings.
int on_client_hello(SSL* ssl, int* alert, void* arg) {
  const auto* snapshot = static_cast<const ServerContext::Snapshot*>(arg);
  const auto* chain = snapshot->select(client_hello_server_name(ssl), client_hello_alpn(ssl));
  if (!chain) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_CLIENT_HELLO_ERROR;
  }
  SSL_CTX* ctx = chain->ctx.get();
  if (SSL_get_SSL_CTX(ssl) != ctx) {
    if (!SSL_set_SSL_CTX(ssl, ctx)) return SSL_CLIENT_HELLO_ERROR;
    SSL_set_num_tickets(ssl, SSL_CTX_get_num_tickets(ctx));
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), nullptr);
    SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(ctx));
    SSL_set_max_proto_version(ssl, SSL_CTX_get_max_proto_version(ctx));
    SSL_clear_options(ssl, SSL_get_options(ssl));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));
    if (!chain->cipher_list.empty()) SSL_set_cipher_list(ssl, chain->cipher_list.c_str());
    if (!chain->ciphersuites.empty()) SSL_set_ciphersuites(ssl, chain->ciphersuites.c_str());
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// The first of the chain's alpn_protocols the client offers; none in common: no ALPN
// (the connection goes on, as with Envoy).
int on_alpn(SSL*, const unsigned char** out, unsigned char* out_size, const unsigned char* in,
            unsigned int in_size, void* arg) {
  const std::string& ours = static_cast<const ServerContext::Snapshot::Chain*>(arg)->alpn;
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(
          &selected, out_size, reinterpret_cast<const unsigned char*>(ours.data()),
          static_cast<unsigned int>(ours.size()), in, in_size) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Which chain an SSL_CTX serves (for the ticket key callback, which OpenSSL calls with the
// session's context and no argument).
int chain_index() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Encrypts tickets with the chain's first key and decrypts with any of them (OpenSSL calls
// it after the ClientHello callback chose the chain, so a ticket made for one chain does
// not open on another unless both have the key; the session id context then refuses it).
int on_ticket_key(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int encrypt) {
  const auto* chain = static_cast<const ServerContext::Snapshot::Chain*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), chain_index()));
  if (!chain || chain->ticket_keys.empty()) return 0;  // no ticket / not ours
  const TicketKey* key = nullptr;
  if (encrypt) {
    key = &chain->ticket_keys.front();
    std::memcpy(key_name, key->name, sizeof(key->name));
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
    if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes, iv) != 1) return -1;
  } else {
    for (const TicketKey& candidate : chain->ticket_keys) {
      if (std::memcmp(candidate.name, key_name, sizeof(candidate.name)) == 0) key = &candidate;
    }
    if (!key) return 0;  // unknown key (rotated out): a full handshake
    if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes, iv) != 1) return -1;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac),
                                        sizeof(key->hmac)),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  // 2: a ticket under an older key is accepted and replaced by one under the current key.
  return encrypt || key == &chain->ticket_keys.front() ? 1 : 2;
}

// What a session was established under: a session resumes only on a chain with the same
// certificate, CA and client-certificate policy (a reload or another chain that changes
// any of them means a full handshake, so no session skips a verification).
std::string session_id_context(const ServerOptions& tls) {
  // Not the chain's file:line: a restarted weir (same ticket keys) resumes its sessions.
  std::string material = tls.require_client_certificate ? "1" : "0";
  for (const auto& certificate : tls.common.tls_certificates) {
    material += '\0' + certificate.certificate_chain.bytes;
  }
  if (tls.common.trusted_ca) material += '\0' + tls.common.trusted_ca->bytes;
  // (A "\0n" literal would be an empty C string: the separators are appended apart.)
  for (const auto& name : tls.server_names) material.append({'\0', 'n'}).append(name);
  for (const auto& protocol : tls.application_protocols) {
    material.append({'\0', 'a'}).append(protocol);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(material.data(), material.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest),
                     std::min<size_t>(size, SSL_MAX_SID_CTX_LENGTH));
}

// Tickets, session cache and timeout as the chain's DownstreamTlsContext asks. OpenSSL
// keeps the session cache and the session lifetime in the context a connection started
// with (the first chain's): those are the listener's, the strictest of its chains'.
Status configure_resumption(ServerContext::Snapshot::Chain& chain, bool cache, long timeout) {
  SSL_CTX* c = chain.ctx.get();
  const ServerOptions& tls = chain.tls;
  const std::string sid = session_id_context(tls);
  SSL_CTX_set_session_id_context(c, reinterpret_cast<const unsigned char*>(sid.data()),
                                 static_cast<unsigned int>(sid.size()));
  SSL_CTX_set_ex_data(c, chain_index(), &chain);
  SSL_CTX_set_session_cache_mode(c, cache ? SSL_SESS_CACHE_SERVER : SSL_SESS_CACHE_OFF);
  if (timeout > 0) SSL_CTX_set_timeout(c, timeout);
  if (tls.disable_stateless_session_resumption) {
    // TLS 1.3 then issues stateful tickets (session cache entries), if the cache is on.
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    if (!cache) SSL_CTX_set_num_tickets(c, 0);
    return Ok{};
  }
  for (const DataSource& source : tls.session_ticket_keys) {
    if (source.bytes.size() != sizeof(TicketKey)) {
      return Error{"a session ticket key is 80 bytes, " + source.filename + " holds " +
                   std::to_string(source.bytes.size())};
    }
    TicketKey key;
    std::memcpy(&key, source.bytes.data(), sizeof(key));
    chain.ticket_keys.push_back(key);
  }
  if (chain.ticket_keys.empty()) {  // Envoy's default: random keys for this context
    TicketKey key;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&key), sizeof(key)) != 1) {
      return Error{"cannot make a session ticket key: " + openssl_error()};
    }
    chain.ticket_keys.push_back(key);
  }
  SSL_CTX_clear_options(c, SSL_OP_NO_TICKET);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(c, on_ticket_key);
  return Ok{};
}

Result<std::shared_ptr<ServerContext::Snapshot>> build_snapshot(
    const std::vector<ServerOptions>& contents) {
  auto snapshot = std::make_shared<ServerContext::Snapshot>();
  bool cache = true;
  long timeout = 0;
  for (const ServerOptions& tls : contents) {
    cache = cache && !tls.disable_stateful_session_resumption;
    const long seconds = static_cast<long>(tls.session_timeout.count());
    if (seconds > 0 && (timeout == 0 || seconds < timeout)) timeout = seconds;
  }
  for (size_t i = 0; i < contents.size(); ++i) {
    auto chain = std::make_unique<ServerContext::Snapshot::Chain>();
    chain->tls = contents[i];
    for (auto* source : file_sources(chain->tls)) {
      chain->stamps.push_back(stamp(source->filename));
    }
    auto ctx = new_context(true, chain->tls.common);
    if (!ctx) return Error{contents[i].location + ": " + ctx.error()};
    chain->ctx = std::move(*ctx);
    SSL_CTX* c = chain->ctx.get();
    split_ciphers(chain->tls.common.cipher_suites, chain->cipher_list, chain->ciphersuites);
    if (chain->tls.common.cipher_suites.empty()) chain->cipher_list = kDefaultCipherList;
    if (chain->tls.common.trusted_ca) {
      int mode = SSL_VERIFY_PEER;
      if (chain->tls.require_client_certificate) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      SSL_CTX_set_verify(c, mode, nullptr);
    }
    if (auto resumption = configure_resumption(*chain, cache, timeout); !resumption.ok()) {
      return Error{contents[i].location + ": " + resumption.error()};
    }
    chain->alpn = alpn_wire_format(chain->tls.common.alpn_protocols);
    if (!chain->alpn.empty()) SSL_CTX_set_alpn_select_cb(c, on_alpn, chain.get());
    SSL_CTX_set_client_hello_cb(c, on_client_hello, snapshot.get());
    snapshot->chains.push_back(std::move(chain));
  }
  return snapshot;
}

}  // namespace

ServerContext::ServerContext(std::vector<ServerOptions> chains, TlsStats stats)
    : chains_(std::move(chains)), stats_(std::move(stats)) {}

ServerContext::~ServerContext() = default;

Result<std::unique_ptr<ServerContext>> ServerContext::create(std::vector<ServerOptions> chains,
                                                             TlsStats stats) {
  if (chains.empty()) return Error{"a TLS listener needs a filter chain"};
  std::unique_ptr<ServerContext> context(new ServerContext(std::move(chains), std::move(stats)));
  context->handshake_timeout_ = std::chrono::milliseconds(0);
  for (const auto& chain : context->chains_) {
    context->handshake_timeout_ = std::max(context->handshake_timeout_, chain.handshake_timeout);
  }
  auto snapshot = build_snapshot(context->chains_);
  if (!snapshot) return Error{snapshot.error()};
  context->current_.store(std::move(*snapshot));
  return context;
}

std::unique_ptr<TlsSocket> ServerContext::new_socket(int fd) {
  std::shared_ptr<const Snapshot> snapshot = current_.load();
  SSL* ssl = SSL_new(snapshot->chains.front()->ctx.get());
  if (!ssl) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_fd(ssl, fd);
  SSL_set_accept_state(ssl);
  return std::make_unique<TlsSocket>(ssl, std::move(snapshot), &stats_);
}

void ServerContext::reload_changed_files() {
  std::shared_ptr<const Snapshot> old = current_.load();
  bool changed = false;
  for (const auto& chain : old->chains) {
    for (const FileStamp& s : chain->stamps) changed = changed || !(stamp(s.path) == s);
  }
  if (!changed) return;
  std::vector<ServerOptions> contents;
  for (const auto& chain : old->chains) {
    ServerOptions tls = chain->tls;
    for (auto* source : file_sources(tls)) {
      // Bounded, as the config loader's DataSource reads: a file swapped for something
      // endless must not eat the memory (the PEM then fails to parse, the old one stays).
      constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;
      std::ifstream file(source->filename, std::ios::binary);
      source->bytes.assign(kMaxFileBytes, '\0');
      file.read(source->bytes.data(), static_cast<std::streamsize>(kMaxFileBytes));
      source->bytes.resize(static_cast<size_t>(file.gcount()));
      source->bytes.shrink_to_fit();
    }
    contents.push_back(std::move(tls));
  }
  auto snapshot = build_snapshot(contents);
  if (!snapshot) {
    // Keep serving the old certificates; try again when the files change again (a
    // certificate and its key are rarely written at the same instant).
    spdlog::error(
        "TLS certificates changed on disk but do not load: {}; still serving the "
        "previous ones",
        snapshot.error());
    // Remember the new stamps so the error is logged once per change, not every second
    // (only this thread reads them).
    for (const auto& chain : old->chains) {
      for (FileStamp& s : chain->stamps) s = stamp(s.path);
    }
    return;
  }
  spdlog::info("TLS certificates reloaded from disk");
  current_.store(std::move(*snapshot));
}

// --- client ---

// The client context built from one version of the certificate files.
struct ClientContext::Loaded {
  SslCtxPtr ctx;
  mutable std::vector<FileStamp> stamps;  // read by the reloading thread only
};

Result<std::shared_ptr<ClientContext>> ClientContext::create(ClientOptions tls, TlsStats stats,
                                                             const std::string& what) {
  std::shared_ptr<ClientContext> context(new ClientContext(std::move(tls), std::move(stats)));
  context->what_ = what;
  auto loaded = context->load(context->config_.common);
  if (!loaded) return Error{loaded.error()};
  context->current_.store(std::move(*loaded));
  return context;
}

Result<std::shared_ptr<const ClientContext::Loaded>> ClientContext::load(
    CommonOptions common) const {
  const std::string& what = what_;
  auto loaded = std::make_shared<Loaded>();
  for (auto* source : file_sources(common)) loaded->stamps.push_back(stamp(source->filename));
  auto ctx = new_context(false, common);
  if (!ctx) return Error{what + ": " + ctx.error()};
  loaded->ctx = std::move(*ctx);
  SSL_CTX* c = loaded->ctx.get();
  SSL_CTX_set_verify(c, common.trusted_ca ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  const std::string alpn = alpn_wire_format(common.alpn_protocols);
  // SSL_CTX_set_alpn_protos returns 0 on success.
  if (!alpn.empty() &&
      SSL_CTX_set_alpn_protos(c, reinterpret_cast<const unsigned char*>(alpn.data()),
                              static_cast<unsigned int>(alpn.size())) != 0) {
    return Error{what + ": alpn_protocols: " + openssl_error()};
  }
  return std::shared_ptr<const Loaded>(std::move(loaded));
}

void ClientContext::reload_changed_files() {
  std::shared_ptr<const Loaded> old = current_.load();
  bool changed = false;
  for (const FileStamp& s : old->stamps) changed = changed || !(stamp(s.path) == s);
  if (!changed) return;
  CommonOptions common = config_.common;
  for (auto* source : file_sources(common)) {
    constexpr size_t kMaxFileBytes = 16 * 1024 * 1024;  // as the server side reads
    std::ifstream file(source->filename, std::ios::binary);
    source->bytes.assign(kMaxFileBytes, '\0');
    file.read(source->bytes.data(), static_cast<std::streamsize>(kMaxFileBytes));
    source->bytes.resize(static_cast<size_t>(file.gcount()));
    source->bytes.shrink_to_fit();
  }
  auto loaded = load(std::move(common));
  if (!loaded) {
    spdlog::error("TLS files changed on disk but do not load: {}; still using the previous ones",
                  loaded.error());
    for (FileStamp& s : old->stamps) s = stamp(s.path);
    return;
  }
  spdlog::info("{}: TLS files reloaded from disk", what_);
  current_.store(std::move(*loaded));
}

std::unique_ptr<TlsSocket> ClientContext::new_socket(int fd) const {
  SSL* ssl = SSL_new(current_.load()->ctx.get());  // the session keeps its context alive
  if (!ssl) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_fd(ssl, fd);
  SSL_set_connect_state(ssl);
  if (!config_.sni.empty()) SSL_set_tlsext_host_name(ssl, config_.sni.c_str());
  return std::make_unique<TlsSocket>(ssl, shared_from_this(), &stats_);
}

bool ClientContext::check_peer(SSL* ssl, TlsInfo& info, std::string& error) const {
  const auto& matchers = config_.common.match_typed_subject_alt_names;
  if (matchers.empty()) return true;
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (!peer) {
    error = "the upstream presented no certificate";
    return false;
  }
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr));
  bool matched = false;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names) && !matched; ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    using Type = SanMatcher::Type;
    std::string value;
    Type type;
    if (name->type == GEN_DNS || name->type == GEN_URI || name->type == GEN_EMAIL) {
      const ASN1_STRING* s = name->d.ia5;
      value.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                   static_cast<size_t>(ASN1_STRING_length(s)));
      type = name->type == GEN_DNS ? Type::Dns : name->type == GEN_URI ? Type::Uri : Type::Email;
    } else if (name->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      const int length = ASN1_STRING_length(ip);
      if ((length != 4 && length != 16) ||
          !inet_ntop(length == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(ip), text,
                     sizeof text)) {
        continue;
      }
      value = text;
      type = Type::IpAddress;
    } else {
      continue;
    }
    for (const auto& matcher : matchers) {
      if (matcher.san_type == type && matcher.matches(value)) matched = true;
    }
  }
  GENERAL_NAMES_free(names);
  if (!matched) error = "the upstream's certificate matches no match_typed_subject_alt_names";
  return matched;
}

}  // namespace weir::net::tls
