#include "extensions/common/wasm/oci_registry.h"

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/base64.h"
#include "extensions/common/wasm/json_value.h"

namespace weir::extensions::wasm {

namespace {

std::string encode_base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buffer[4];
      std::snprintf(buffer, sizeof buffer, "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

// The auth-params of a challenge: Bearer realm="...",service="...",scope="...".
std::map<std::string, std::string> challenge_params(std::string_view text) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && (text[at] == ' ' || text[at] == ',')) ++at;
    const size_t eq = text.find('=', at);
    if (eq == std::string_view::npos) break;
    std::string key(text.substr(at, eq - at));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    at = eq + 1;
    std::string value;
    if (at < text.size() && text[at] == '"') {
      ++at;
      while (at < text.size() && text[at] != '"') {
        if (text[at] == '\\' && at + 1 < text.size()) ++at;
        value += text[at++];
      }
      ++at;
    } else {
      while (at < text.size() && text[at] != ',') value += text[at++];
    }
    out[key] = value;
  }
  return out;
}

}  // namespace

bool is_sha256_digest(std::string_view digest) {
  if (!digest.starts_with("sha256:") || digest.size() != 7 + 64) return false;
  for (char c : digest.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string OciReference::to_string() const {
  return registry + "/" + repository + (digest.empty() ? ":" + tag : "@" + digest);
}

Result<OciReference> parse_oci_reference(std::string_view uri) {
  if (!uri.starts_with("oci://")) return Error{"an OCI reference starts with oci://"};
  std::string_view rest = uri.substr(6);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return Error{"'" + std::string(uri) + "' has no repository (oci://REGISTRY/REPO:TAG)"};
  }
  OciReference ref;
  ref.registry = std::string(rest.substr(0, slash));
  std::string_view path = rest.substr(slash + 1);
  if (const size_t at = path.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(path.substr(at + 1));
    path = path.substr(0, at);
    if (!is_sha256_digest(ref.digest)) {
      return Error{"the digest of '" + std::string(uri) +
                   "' must be sha256: and 64 lower-case hex digits"};
    }
  }
  const size_t last_slash = path.rfind('/');
  const size_t colon = path.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    if (!ref.digest.empty()) return Error{"a reference takes a tag or a digest, not both"};
    ref.tag = std::string(path.substr(colon + 1));
    path = path.substr(0, colon);
    if (ref.tag.empty() || ref.tag.size() > 128) {
      return Error{"bad tag in '" + std::string(uri) + "'"};
    }
    for (char c : ref.tag) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
        return Error{"bad tag in '" + std::string(uri) + "'"};
      }
    }
  } else if (ref.digest.empty()) {
    ref.tag = "latest";
  }
  ref.repository = std::string(path);
  if (ref.repository.empty() || ref.repository.size() > 255) {
    return Error{"bad repository in '" + std::string(uri) + "'"};
  }
  for (char c : ref.repository) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '.' ||
          c == '-')) {
      return Error{"bad repository in '" + std::string(uri) +
                   "' (lower-case letters, digits, '/', '_', '.', '-')"};
    }
  }
  return ref;
}

Result<std::optional<RegistryCredentials>> load_registry_credentials(const std::string& path,
                                                                     const std::string& registry) {
  std::string file = path;
  if (file.empty()) {
    std::error_code error;
    if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir) {
      file = std::string(dir) + "/config.json";
    } else if (const char* home = std::getenv("HOME"); home && *home) {
      file = std::string(home) + "/.docker/config.json";
    }
    if (file.empty() || !std::filesystem::is_regular_file(file, error)) {
      return std::optional<RegistryCredentials>();
    }
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{"cannot read the registry credentials file '" + file + "'"};
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > kMaxTokenReplyBytes) return Error{"'" + file + "' is too big"};
  auto json = parse_json(ss.str());
  if (!json.ok()) return Error{"'" + file + "' is not valid JSON: " + json.error()};
  const JsonValue* auths = json.value().get("auths");
  if (!auths) return std::optional<RegistryCredentials>();
  for (const std::string& key :
       {registry, "https://" + registry, "http://" + registry, "https://" + registry + "/v2/"}) {
    const JsonValue* entry = auths->get(key);
    if (!entry) continue;
    RegistryCredentials credentials;
    if (const std::string auth = entry->get_string("auth"); !auth.empty()) {
      auto decoded = config::decode_base64(auth);
      const size_t colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return Error{std::string("'")
                         .append(file)
                         .append("': the auth of '")
                         .append(key)
                         .append("' is not base64 of user:password")};
      }
      credentials.username = decoded->substr(0, colon);
      credentials.password = decoded->substr(colon + 1);
    } else {
      credentials.username = entry->get_string("username");
      credentials.password = entry->get_string("password");
    }
    if (credentials.username.empty()) continue;
    return std::optional<RegistryCredentials>(std::move(credentials));
  }
  return std::optional<RegistryCredentials>();
}

OciRegistry::OciRegistry(OciReference ref, HttpRoute route, bool plain_http,
                         std::optional<RegistryCredentials> credentials,
                         std::chrono::milliseconds timeout)
    : ref_(std::move(ref)),
      route_(std::move(route)),
      plain_http_(plain_http),
      credentials_(std::move(credentials)),
      timeout_(timeout) {}

std::string OciRegistry::base_url() const {
  const bool https = route_.use_cluster ? route_.cluster_tls != nullptr : !plain_http_;
  return std::string(https ? "https://" : "http://") + ref_.registry;
}

Result<HttpResponse> OciRegistry::exchange(const HttpRequest& request, uint64_t max_body) {
  // The registry's own host goes through its route; another (a token realm, a blob's
  // storage) is reached directly.
  auto response =
      http_exchange(is_registry(request.url) ? route_ : HttpRoute{}, request, timeout_, max_body);
  if (response.ok()) {
    // A registry answering 5xx is as good as away: worth a retry, or the cached digest.
    unreachable_ = response.value().status >= 500;
  } else {
    const std::string& e = response.error();
    unreachable_ = e.starts_with("cannot connect") || e.starts_with("cannot resolve") ||
                   e.find("timed out") != std::string::npos ||
                   e.starts_with("the connection closed before");
  }
  return response;
}

bool OciRegistry::is_registry(const HttpUrl& url) const {
  return url.authority() == ref_.registry ||
         url.host + ":" + std::to_string(url.port) == ref_.registry;
}

Result<bool> OciRegistry::authenticate(const std::string& challenge, bool push) {
  const size_t space = challenge.find(' ');
  std::string scheme = challenge.substr(0, space);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string basic =
      credentials_ ? "Basic " + encode_base64(credentials_->username + ":" + credentials_->password)
                   : std::string();
  if (scheme == "basic") {
    if (!credentials_) return Error{"the registry asks for credentials and none are configured"};
    authorization_ = basic;
    return true;
  }
  if (scheme != "bearer") return Error{"unsupported auth scheme '" + scheme + "'"};
  auto params = challenge_params(space == std::string::npos ? "" : challenge.substr(space + 1));
  auto realm = parse_http_url(params["realm"]);
  if (!realm.ok()) return Error{"bad token realm: " + realm.error()};
  std::string query =
      "scope=" + url_encode("repository:" + ref_.repository + (push ? ":pull,push" : ":pull"));
  if (!params["service"].empty()) query += "&service=" + url_encode(params["service"]);
  HttpRequest request;
  request.url = realm.value();
  request.url.path_and_query +=
      (request.url.path_and_query.find('?') == std::string::npos ? "?" : "&") + query;
  if (credentials_) request.headers.emplace_back("Authorization", basic);
  auto reply = exchange(request, kMaxTokenReplyBytes);
  if (!reply.ok()) return Error{"token endpoint: " + reply.error()};
  if (reply.value().status != 200) {
    return Error{"token endpoint answered " + std::to_string(reply.value().status) +
                 (reply.value().status == 401 ? " (credentials refused)" : "")};
  }
  auto json = parse_json(reply.value().body);
  if (!json.ok()) return Error{"token endpoint: " + json.error()};
  std::string token = json.value().get_string("token");
  if (token.empty()) token = json.value().get_string("access_token");
  if (token.empty()) return Error{"the token endpoint's reply has no token"};
  authorization_ = "Bearer " + token;
  return true;
}

Result<HttpResponse> OciRegistry::send(const std::string& method, const std::string& path_or_url,
                                       std::vector<std::pair<std::string, std::string>> headers,
                                       std::string body, uint64_t max_body, bool push) {
  const std::string url = path_or_url.starts_with("http://") || path_or_url.starts_with("https://")
                              ? path_or_url
                              : base_url() + path_or_url;
  auto parsed = parse_http_url(url);
  if (!parsed.ok()) return Error{parsed.error()};
  HttpRequest request;
  request.method = method;
  request.url = parsed.value();
  request.headers = std::move(headers);
  request.body = std::move(body);
  for (int attempt = 0;; ++attempt) {
    HttpRequest sent = request;
    // The registry's token or credentials go to the registry only, never to the storage
    // a blob is redirected to.
    if (!authorization_.empty() && is_registry(sent.url)) {
      sent.headers.emplace_back("Authorization", authorization_);
    }
    auto response = exchange(sent, max_body);
    if (!response.ok() || response.value().status != 401 || attempt > 0) return response;
    const std::string challenge = response.value().header("www-authenticate");
    if (challenge.empty()) return response;
    auto authenticated = authenticate(challenge, push);
    if (!authenticated.ok()) return Error{authenticated.error()};
  }
}

}  // namespace weir::extensions::wasm
