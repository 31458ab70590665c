#pragma once
// Talking to an OCI distribution registry (the /v2/ API): references, credentials and the
// auth dance (anonymous, Basic, or a Bearer token fetched from the WWW-Authenticate
// challenge's realm). A weir extension: Envoy cannot pull from registries.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "extensions/common/wasm/blocking_http_client.h"

namespace weir::extensions::wasm {

// oci://REGISTRY[:PORT]/REPO[/...][:TAG] or oci://REGISTRY/REPO@sha256:HEX.
struct OciReference {
  std::string registry;    // host[:port]
  std::string repository;  // lower case, "/"-separated
  std::string tag;         // "latest" when neither a tag nor a digest is given
  std::string digest;      // "sha256:<hex>" when pinned
  std::string reference() const { return digest.empty() ? tag : digest; }
  std::string to_string() const;  // as written, without "oci://"
};
Result<OciReference> parse_oci_reference(std::string_view uri);
// "sha256:" and 64 lower-case hex digits.
bool is_sha256_digest(std::string_view digest);

// Credentials for one registry. Never logged, never put in an error message.
struct RegistryCredentials {
  std::string username;
  std::string password;
};
// From a docker config.json (`auths` → registry → `auth` (base64 user:password) or
// `username`/`password`). `path` empty: $DOCKER_CONFIG/config.json, then
// ~/.docker/config.json, when they exist. nullopt when there are none for `registry`.
Result<std::optional<RegistryCredentials>> load_registry_credentials(const std::string& path,
                                                                     const std::string& registry);

// Bounds on what a registry may send.
inline constexpr uint64_t kMaxManifestBytes = uint64_t{4} << 20;
inline constexpr uint64_t kMaxLayerBytes = uint64_t{64} << 20;  // also the remote code cap
inline constexpr uint64_t kMaxTokenReplyBytes = uint64_t{1} << 20;
inline constexpr int kMaxBlobRedirects = 3;

class OciRegistry {
 public:
  // `route`: how to reach the registry (a cluster, or the registry's own host over HTTPS,
  // or plain HTTP when `plain_http`). `timeout` bounds each exchange.
  OciRegistry(OciReference ref, HttpRoute route, bool plain_http,
              std::optional<RegistryCredentials> credentials, std::chrono::milliseconds timeout);

  const OciReference& ref() const { return ref_; }
  // One request to /v2/<repo>/<path_suffix> (or an absolute URL from a Location header),
  // with the auth the registry asks for; `push` asks for a pull,push token.
  Result<HttpResponse> send(const std::string& method, const std::string& path_or_url,
                            std::vector<std::pair<std::string, std::string>> headers,
                            std::string body, uint64_t max_body, bool push = false);
  // True when the last failure was reaching the registry (refused, timed out), not what it
  // answered: a pinned tag may then fall back to the cached digest.
  bool last_failure_unreachable() const { return unreachable_; }
  std::string base_url() const;

 private:
  Result<HttpResponse> exchange(const HttpRequest& request, uint64_t max_body);
  bool is_registry(const HttpUrl& url) const;  // the registry's own host (and port)
  Result<bool> authenticate(const std::string& challenge, bool push);

  OciReference ref_;
  HttpRoute route_;
  bool plain_http_;
  std::optional<RegistryCredentials> credentials_;
  std::chrono::milliseconds timeout_;
  std::string authorization_;  // the header value once known
  bool unreachable_ = false;
};

}  // namespace weir::extensions::wasm
