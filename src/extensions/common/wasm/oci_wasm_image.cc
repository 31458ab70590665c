#include "extensions/common/wasm/oci_wasm_image.h"

#include <spdlog/spdlog.h>
#include <zlib.h>

#include <cstring>

#include "extensions/common/wasm/json_value.h"
#include "extensions/common/wasm/remote_code_cache.h"

namespace weir::extensions::wasm {

namespace {

constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
constexpr std::string_view kOciTarGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr std::string_view kOciTar = "application/vnd.oci.image.layer.v1.tar";
constexpr std::string_view kDockerTarGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";

bool is_tar_layer(std::string_view type) {
  return type == kOciTarGzip || type == kOciTar || type == kDockerTarGzip ||
         type == "application/vnd.docker.image.rootfs.diff.tar";
}

std::string digest_of(std::string_view bytes) { return "sha256:" + sha256_hex(bytes); }

bool is_wasm(std::string_view bytes) {
  return bytes.size() >= 8 && bytes.substr(0, 4) == std::string_view("\0asm", 4);
}

Result<std::string> gunzip(std::string_view in) {
  z_stream s{};
  if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) return Error{"zlib: cannot start"};
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  std::string out;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (out.size() >= kMaxLayerBytes) {
      inflateEnd(&s);
      return Error{"the layer unpacks to more than " + std::to_string(kMaxLayerBytes) + " bytes"};
    }
    const size_t before = out.size();
    out.resize(before + 256 * 1024);
    s.next_out = reinterpret_cast<Bytef*>(out.data() + before);
    s.avail_out = 256 * 1024;
    rc = inflate(&s, Z_NO_FLUSH);
    out.resize(out.size() - s.avail_out);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&s);
      return Error{"the layer is not valid gzip"};
    }
    if (rc == Z_OK && s.avail_in == 0 && s.avail_out != 0) {
      inflateEnd(&s);
      return Error{"the layer's gzip stream is truncated"};
    }
  }
  inflateEnd(&s);
  return out;
}

std::string gzip(std::string_view in) {
  z_stream s{};
  deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&s, in.size()) + 64, '\0');
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

uint64_t octal(std::string_view field) {
  uint64_t value = 0;
  for (char c : field) {
    if (c >= '0' && c <= '7') {
      value = value * 8 + static_cast<uint64_t>(c - '0');
    } else if (c != ' ' && c != '\0') {
      break;
    }
  }
  return value;
}

std::string c_string(std::string_view field) {
  return std::string(field.substr(0, field.find('\0')));
}

// plugin.wasm at the root of a tar archive (as Istio's compat images hold it).
Result<std::string> plugin_from_tar(std::string_view tar) {
  size_t at = 0;
  while (at + 512 <= tar.size()) {
    std::string_view header = tar.substr(at, 512);
    if (header.find_first_not_of('\0') == std::string_view::npos) break;
    std::string name = c_string(header.substr(0, 100));
    const std::string prefix = c_string(header.substr(345, 155));
    if (header.substr(257, 5) == "ustar" && !prefix.empty()) name.insert(0, prefix + "/");
    while (name.starts_with("./")) name.erase(0, 2);
    while (name.starts_with("/")) name.erase(0, 1);
    const uint64_t size = octal(header.substr(124, 12));
    const char type = header[156];
    at += 512;
    if (size > tar.size() - at) return Error{"the layer's tar archive is truncated"};
    if ((type == '0' || type == '\0') && name == "plugin.wasm") {
      return std::string(tar.substr(at, size));
    }
    at += (size + 511) / 512 * 512;
  }
  return Error{"the image's layer holds no plugin.wasm at its root"};
}

std::string tar_with_plugin(std::string_view wasm) {
  std::string header(512, '\0');
  std::memcpy(header.data(), "plugin.wasm", 11);
  std::snprintf(header.data() + 100, 8, "%07o", 0644);
  std::snprintf(header.data() + 108, 8, "%07o", 0);
  std::snprintf(header.data() + 116, 8, "%07o", 0);
  std::snprintf(header.data() + 124, 12, "%011llo", static_cast<unsigned long long>(wasm.size()));
  std::snprintf(header.data() + 136, 12, "%011o", 0);
  header[156] = '0';
  std::memcpy(header.data() + 257,
              "ustar\0"
              "00",
              8);
  std::memset(header.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  std::snprintf(header.data() + 148, 8, "%06o", sum);
  header[155] = ' ';
  std::string tar = header;
  tar.append(wasm);
  tar.append((512 - wasm.size() % 512) % 512, '\0');
  tar.append(1024, '\0');
  return tar;
}

std::string status_text(int status) {
  switch (status) {
    case 401:
      return "401 Unauthorized";
    case 403:
      return "403 Forbidden";
    case 404:
      return "404 Not Found";
    default:
      return std::to_string(status);
  }
}

// A blob by digest: from the cache, or fetched (following at most kMaxBlobRedirects
// redirects: registries send blobs from storage elsewhere) and checked against the digest.
Result<std::string> fetch_blob(OciRegistry& registry, const std::string& digest, uint64_t max) {
  const std::string hex = digest.substr(7);
  if (auto cached = RemoteCodeCache::get(hex)) return std::move(*cached);
  std::string location =
      registry.base_url() + "/v2/" + registry.ref().repository + "/blobs/" + digest;
  for (int redirects = 0;; ++redirects) {
    auto response = registry.send("GET", location, {}, "", max);
    if (!response.ok()) return Error{"fetching blob " + digest + ": " + response.error()};
    const int status = response.value().status;
    if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
      if (redirects >= kMaxBlobRedirects) {
        return Error{"fetching blob " + digest + ": more than " +
                     std::to_string(kMaxBlobRedirects) + " redirects"};
      }
      const std::string next = response.value().header("location");
      if (next.empty()) return Error{"a redirect without a location"};
      if (next.starts_with("/")) {  // relative to where the redirect came from
        auto here = parse_http_url(location);
        if (!here.ok()) return Error{here.error()};
        location = std::string(here.value().https ? "https://" : "http://") +
                   here.value().authority() + next;
      } else {
        location = next;
      }
      continue;
    }
    if (status != 200) {
      return Error{"fetching blob " + digest + ": the registry answered " + status_text(status)};
    }
    std::string& body = response.value().body;
    const std::string got = digest_of(body);
    if (got != digest) {
      return Error{std::string("blob digest mismatch: expected ")
                       .append(digest)
                       .append(", got ")
                       .append(got)};
    }
    RemoteCodeCache::put(hex, body);
    return std::move(body);
  }
}

Result<std::string> fetch_manifest(OciRegistry& registry, std::string& digest) {
  const OciReference& ref = registry.ref();
  if (!ref.digest.empty()) {
    if (auto cached = RemoteCodeCache::get(ref.digest.substr(7))) {
      digest = ref.digest;
      return std::move(*cached);
    }
  }
  const std::string note_key = "oci-tag " + ref.to_string();
  auto response =
      registry.send("GET", "/v2/" + ref.repository + "/manifests/" + ref.reference(),
                    {{"Accept", std::string(kOciManifest) + ", " + std::string(kDockerManifest)}},
                    "", kMaxManifestBytes);
  if (!response.ok() || response.value().status >= 500) {
    const std::string failure =
        response.ok() ? "answered " + std::to_string(response.value().status) : response.error();
    if (ref.digest.empty() && registry.last_failure_unreachable()) {
      // The registry is away: the tag's last digest, if its manifest is cached.
      if (auto noted = RemoteCodeCache::get_note(note_key); noted && noted->size() == 71) {
        if (auto cached = RemoteCodeCache::get(noted->substr(7))) {
          spdlog::warn("registry {} unreachable ({}): using the cached {} of {}", ref.registry,
                       failure, *noted, ref.to_string());
          digest = *noted;
          return std::move(*cached);
        }
      }
    }
    return Error{"registry " + ref.registry + ": " + failure};
  }
  const int status = response.value().status;
  if (status == 404) {
    return Error{"manifest '" + ref.reference() + "' not found in " + ref.registry + "/" +
                 ref.repository + " (404): no such tag or digest"};
  }
  if (status != 200) {
    return Error{"fetching the manifest of " + ref.to_string() + ": the registry answered " +
                 status_text(status)};
  }
  std::string& body = response.value().body;
  digest = digest_of(body);
  if (!ref.digest.empty() && digest != ref.digest) {
    return Error{"manifest digest mismatch: expected " + ref.digest + ", got " + digest};
  }
  RemoteCodeCache::put(digest.substr(7), body);
  if (ref.digest.empty()) RemoteCodeCache::put_note(note_key, digest);
  return std::move(body);
}

}  // namespace

Result<std::string> wasm_from_layer(std::string_view media_type, std::string_view layer) {
  std::string wasm;
  if (is_tar_layer(media_type)) {
    std::string tar;
    if (layer.size() >= 2 && uint8_t(layer[0]) == 0x1f && uint8_t(layer[1]) == 0x8b) {
      auto unpacked = gunzip(layer);
      if (!unpacked.ok()) return unpacked;
      tar = std::move(unpacked.value());
    } else {
      tar = std::string(layer);
    }
    auto found = plugin_from_tar(tar);
    if (!found.ok()) return found;
    wasm = std::move(found.value());
  } else {
    wasm = std::string(layer);
  }
  if (!is_wasm(wasm)) return Error{"the layer does not hold a WebAssembly module"};
  return wasm;
}

Result<PulledPlugin> pull_wasm_plugin(OciRegistry& registry) {
  PulledPlugin out;
  auto manifest_bytes = fetch_manifest(registry, out.manifest_digest);
  if (!manifest_bytes.ok()) return Error{manifest_bytes.error()};
  auto manifest = parse_json(manifest_bytes.value());
  if (!manifest.ok()) return Error{"the manifest is not JSON: " + manifest.error()};
  const std::string media_type = manifest.value().get_string("mediaType");
  if (media_type == kOciIndex || media_type == kDockerList) {
    return Error{"'" + registry.ref().to_string() + "' is an image index (" + media_type +
                 "): push a single-platform image"};
  }
  if (!media_type.empty() && media_type != kOciManifest && media_type != kDockerManifest) {
    return Error{"unsupported manifest media type '" + media_type + "'"};
  }
  const JsonValue* layers = manifest.value().get("layers");
  if (!layers || layers->type != JsonValue::Type::Array || layers->array.empty()) {
    return Error{"the manifest has no layers"};
  }
  const JsonValue* chosen = nullptr;
  std::string seen;
  for (const JsonValue& layer : layers->array) {
    const std::string type = layer.get_string("mediaType");
    seen += (seen.empty() ? "" : ", ") + type;
    if (type == kWasmArtifactLayer) out.format = "wasm artifact image";
    if (type == kCncfWasmLayer) out.format = "CNCF wasm artifact";
    if (type == kWasmArtifactLayer || type == kCncfWasmLayer) {
      chosen = &layer;
      break;
    }
  }
  if (!chosen && layers->array.size() == 1 &&
      is_tar_layer(layers->array[0].get_string("mediaType"))) {
    chosen = &layers->array[0];
    out.format = "compat image";
  }
  if (!chosen) {
    return Error{"unsupported media type: the layers of " + registry.ref().to_string() + " are [" +
                 seen + "]; weir takes " + std::string(kWasmArtifactLayer) + ", " +
                 std::string(kCncfWasmLayer) + ", or a single tar(+gzip) layer with plugin.wasm"};
  }
  const std::string digest = chosen->get_string("digest");
  if (!is_sha256_digest(digest)) {
    return Error{"the layer's digest '" + digest + "' is not a sha256 digest"};
  }
  const JsonValue* size = chosen->get("size");
  if (size && size->number > static_cast<double>(kMaxLayerBytes)) {
    return Error{"the layer is " + std::to_string(static_cast<uint64_t>(size->number)) +
                 " bytes, over the limit of " + std::to_string(kMaxLayerBytes)};
  }
  auto blob = fetch_blob(registry, digest, kMaxLayerBytes);
  if (!blob.ok()) return Error{blob.error()};
  auto wasm = wasm_from_layer(chosen->get_string("mediaType"), blob.value());
  if (!wasm.ok()) return Error{wasm.error()};
  out.wasm = std::move(wasm.value());
  return out;
}

namespace {

Result<bool> upload_blob(OciRegistry& registry, const std::string& bytes) {
  const std::string digest = digest_of(bytes);
  const std::string repo = registry.ref().repository;
  auto head = registry.send("HEAD", "/v2/" + repo + "/blobs/" + digest, {}, "", 0, true);
  if (head.ok() && head.value().status == 200) return true;
  auto started = registry.send("POST", "/v2/" + repo + "/blobs/uploads/", {}, "", 64 * 1024, true);
  if (!started.ok()) return Error{"starting an upload: " + started.error()};
  if (started.value().status != 202) {
    return Error{"starting an upload: the registry answered " +
                 status_text(started.value().status)};
  }
  std::string location = started.value().header("location");
  if (location.empty()) return Error{"the registry gave no upload location"};
  location += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") +
              "sha256%3A" + digest.substr(7);
  auto put = registry.send("PUT", location, {{"Content-Type", "application/octet-stream"}}, bytes,
                           64 * 1024, true);
  if (!put.ok()) return Error{"uploading " + digest + ": " + put.error()};
  if (put.value().status != 201) {
    return Error{"uploading " + digest + ": the registry answered " +
                 status_text(put.value().status) + ": " + put.value().body.substr(0, 200)};
  }
  return true;
}

std::string descriptor(std::string_view media_type, const std::string& bytes) {
  return "{\"mediaType\":" + json_quote(media_type) + ",\"digest\":\"" + digest_of(bytes) +
         "\",\"size\":" + std::to_string(bytes.size()) + "}";
}

}  // namespace

Result<std::string> push_wasm_plugin(OciRegistry& registry, const std::string& wasm,
                                     const PushOptions& options) {
  if (!is_wasm(wasm)) return Error{"the file is not a WebAssembly module"};
  std::string layer, layer_type, config, config_type;
  switch (options.format) {
    case ImageFormat::WasmArtifact:
      layer = wasm;
      layer_type = kWasmArtifactLayer;
      config = "{}";
      config_type = kWasmArtifactConfig;
      break;
    case ImageFormat::Cncf:
      layer = wasm;
      layer_type = kCncfWasmLayer;
      config = "{\"architecture\":\"wasm\",\"os\":\"wasip1\",\"layerDigests\":[\"" +
               digest_of(wasm) + "\"]}";
      config_type = kCncfWasmConfig;
      break;
    case ImageFormat::Compat: {
      const std::string tar = tar_with_plugin(wasm);
      layer = gzip(tar);
      layer_type = options.docker_manifest ? kDockerTarGzip : kOciTarGzip;
      config =
          "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},\"rootfs\":{\"type\":"
          "\"layers\",\"diff_ids\":[\"" +
          digest_of(tar) + "\"]}}";
      config_type = options.docker_manifest ? kDockerConfig : kOciConfig;
      break;
    }
  }
  if (!options.layer_media_type.empty()) layer_type = options.layer_media_type;
  if (auto up = upload_blob(registry, config); !up.ok()) return Error{up.error()};
  if (auto up = upload_blob(registry, layer); !up.ok()) return Error{up.error()};
  const std::string_view manifest_type = options.docker_manifest ? kDockerManifest : kOciManifest;
  const std::string manifest = "{\"schemaVersion\":2,\"mediaType\":" + json_quote(manifest_type) +
                               ",\"config\":" + descriptor(config_type, config) + ",\"layers\":[" +
                               descriptor(layer_type, layer) + "]}";
  const OciReference& ref = registry.ref();
  auto put =
      registry.send("PUT", "/v2/" + ref.repository + "/manifests/" + ref.reference(),
                    {{"Content-Type", std::string(manifest_type)}}, manifest, 64 * 1024, true);
  if (!put.ok()) return Error{"pushing the manifest: " + put.error()};
  if (put.value().status != 201) {
    return Error{"pushing the manifest: the registry answered " + status_text(put.value().status) +
                 ": " + put.value().body.substr(0, 300)};
  }
  return digest_of(manifest);
}

}  // namespace weir::extensions::wasm
