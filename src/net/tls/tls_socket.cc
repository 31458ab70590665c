#include "net/tls/tls_socket.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>

#include "net/tls/tls_stats.h"

namespace weir::net::tls {
namespace {

// The first error OpenSSL queued, readable; the queue is cleared (it is per thread, and a
// stale entry would confuse the next SSL_get_error).
std::string take_openssl_error(SSL* ssl, int ret) {
  const int code = SSL_get_error(ssl, ret);
  std::string reason;
  if (unsigned long err = ERR_get_error(); err != 0) {
    const char* text = ERR_reason_error_string(err);
    reason = text ? text : "error " + std::to_string(err);
  }
  ERR_clear_error();
  if (const long verify = SSL_get_verify_result(ssl); verify != X509_V_OK) {
    reason += std::string(reason.empty() ? "" : ": ") + X509_verify_cert_error_string(verify);
  }
  if (!reason.empty()) return reason;
  if (code == SSL_ERROR_SYSCALL) return errno != 0 ? strerror(errno) : "connection closed";
  return "TLS error " + std::to_string(code);
}

std::string name_to_string(X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string result(data, static_cast<size_t>(size > 0 ? size : 0));
  BIO_free(bio);
  return result;
}

// Envoy's (BoringSSL's) group names: "X25519", "P-256", ...
std::string curve_name(SSL* ssl) {
  const int nid = SSL_get_negotiated_group(ssl);
  switch (nid) {
    case NID_X25519:
      return "X25519";
    case NID_X448:
      return "X448";
    case NID_X9_62_prime256v1:
      return "P-256";
    case NID_secp384r1:
      return "P-384";
    case NID_secp521r1:
      return "P-521";
    default:
      break;
  }
  const char* name = nid > 0 ? OBJ_nid2sn(nid) : nullptr;
  return name ? name : "";
}

// The signature algorithm the peer signed the handshake with, in the TLS 1.3 names Envoy
// (BoringSSL) uses: "ecdsa_secp256r1_sha256", "rsa_pss_rsae_sha256", "ed25519" ("" when
// the peer signed nothing: a client without a certificate).
std::string peer_sigalg_name(SSL* ssl) {
  int type = NID_undef, digest = NID_undef;
  if (!SSL_get_peer_signature_type_nid(ssl, &type)) return "";
  SSL_get_peer_signature_nid(ssl, &digest);
  std::string hash = digest != NID_undef && OBJ_nid2sn(digest) ? OBJ_nid2sn(digest) : "";
  for (char& c : hash) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  switch (type) {
    case EVP_PKEY_ED25519:
      return "ed25519";
    case EVP_PKEY_ED448:
      return "ed448";
    case EVP_PKEY_RSA_PSS:
      return "rsa_pss_rsae_" + hash;
    case EVP_PKEY_RSA:
      return "rsa_pkcs1_" + hash;
    case EVP_PKEY_EC:
      if (hash == "sha256") return "ecdsa_secp256r1_sha256";
      if (hash == "sha384") return "ecdsa_secp384r1_sha384";
      if (hash == "sha512") return "ecdsa_secp521r1_sha512";
      return "ecdsa_" + hash;
    default:
      return "";
  }
}

void count_handshake_parameters(SSL* ssl, TlsStats& stats) {
  if (!stats.store) return;
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    stats.store->counter(stats.prefix + "ciphers." + SSL_CIPHER_get_name(cipher)).inc();
  }
  if (const std::string curve = curve_name(ssl); !curve.empty()) {
    stats.store->counter(stats.prefix + "curves." + curve).inc();
  }
  if (const std::string sigalg = peer_sigalg_name(ssl); !sigalg.empty()) {
    stats.store->counter(stats.prefix + "sigalgs." + sigalg).inc();
  }
}

}  // namespace

TlsSocket::TlsSocket(SSL* ssl, std::shared_ptr<const Owner> owner, TlsStats* stats)
    : ssl_(ssl), owner_(std::move(owner)), stats_(stats) {
  SSL_set_app_data(ssl_, this);
}

TlsSocket::~TlsSocket() { SSL_free(ssl_); }

TlsSocket::Step TlsSocket::handshake() {
  if (done_) return Step::Done;
  if (failed_) return Step::Failed;
  ERR_clear_error();
  const int ret = SSL_do_handshake(ssl_);
  if (ret == 1) {
    fill_info();
    std::string error;
    if (owner_ && !owner_->check_peer(ssl_, info_, error)) {
      if (stats_) stats_->fail_verify_san.inc();
      fail(error);
      return Step::Failed;
    }
    done_ = true;
    if (stats_) {
      stats_->handshake.inc();
      if (SSL_session_reused(ssl_)) stats_->session_reused.inc();
      count_handshake_parameters(ssl_, *stats_);
      if (!info_.peer_certificate_presented) stats_->no_certificate.inc();
      const int version = SSL_version(ssl_);
      if (version == TLS1_3_VERSION) stats_->versions_tls1_3.inc();
      if (version == TLS1_2_VERSION) stats_->versions_tls1_2.inc();
      if (version == TLS1_1_VERSION) stats_->versions_tls1_1.inc();
      if (version == TLS1_VERSION) stats_->versions_tls1_0.inc();
    }
    return Step::Done;
  }
  const int code = SSL_get_error(ssl_, ret);
  if (code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE) return Step::Again;
  const unsigned long first = ERR_peek_error();
  if (stats_) {
    if (SSL_get_verify_result(ssl_) != X509_V_OK) stats_->fail_verify_error.inc();
    if (ERR_GET_REASON(first) == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
      stats_->fail_verify_no_cert.inc();
    }
  }
  fail(take_openssl_error(ssl_, ret));
  return Step::Failed;
}

void TlsSocket::fail(std::string reason) {
  failed_ = true;
  error_ = std::move(reason);
  if (stats_) stats_->connection_error.inc();
}

void TlsSocket::on_handshake_timeout() {
  if (done_ || failed_) return;
  if (stats_) stats_->handshake_timeout.inc();
  fail("TLS handshake timed out");
}

void TlsSocket::fill_info() {
  info_.version = SSL_get_version(ssl_);
  if (const char* sni = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name)) {
    info_.requested_server_name = sni;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_size = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_size);
  if (alpn) info_.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_size);
  if (const char* cipher = SSL_get_cipher_name(ssl_)) info_.cipher = cipher;
  X509* peer = SSL_get1_peer_certificate(ssl_);
  if (!peer) return;
  info_.peer_certificate_presented = true;
  info_.peer_certificate_validated =
      SSL_get_verify_result(ssl_) == X509_V_OK && SSL_get_verify_mode(ssl_) != SSL_VERIFY_NONE;
  info_.subject_peer_certificate = name_to_string(X509_get_subject_name(peer));
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(peer, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI && name->type != GEN_DNS) continue;
    const ASN1_STRING* value =
        name->type == GEN_URI ? name->d.uniformResourceIdentifier : name->d.dNSName;
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                     static_cast<size_t>(ASN1_STRING_length(value)));
    (name->type == GEN_URI ? info_.uri_san_peer_certificate : info_.dns_san_peer_certificate)
        .push_back(std::move(text));
  }
  GENERAL_NAMES_free(names);
  X509_free(peer);
}

ssize_t TlsSocket::read(char* buffer, size_t size) {
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_read(ssl_, buffer, static_cast<int>(size > INT_MAX ? INT_MAX : size));
  if (ret > 0) return ret;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // close_notify
    case SSL_ERROR_SYSCALL:
      if (errno == 0) return 0;  // EOF (SSL_OP_IGNORE_UNEXPECTED_EOF makes it ZERO_RETURN)
      return -1;
    default:
      error_ = take_openssl_error(ssl_, ret);
      errno = EPROTO;
      return -1;
  }
}

ssize_t TlsSocket::write(const char* data, size_t size) {
  ERR_clear_error();
  errno = 0;
  const int ret = SSL_write(ssl_, data, static_cast<int>(size > INT_MAX ? INT_MAX : size));
  if (ret > 0) return ret;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_SYSCALL:
      if (errno == 0) errno = EPIPE;
      return -1;
    default:
      error_ = take_openssl_error(ssl_, ret);
      errno = EPROTO;
      return -1;
  }
}

void TlsSocket::shutdown() {
  if (!done_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace weir::net::tls
