#pragma once
// Proxy-Wasm plugins as OCI images, in the three formats in use:
// - the Wasm artifact image (Istio's and WebAssembly Hub's "oci" variant): one layer of type
//   application/vnd.module.wasm.content.layer.v1+wasm holding the module;
// - Istio's compatible image ("compat"): an ordinary container image with a single
//   tar(.gz) layer holding plugin.wasm;
// - the CNCF Wasm OCI artifact: a layer of type application/wasm.
// Manifests may be OCI image manifests or Docker v2 schema 2. Every digest is checked.
#include <string>

#include "common/result.h"
#include "extensions/common/wasm/oci_registry.h"

namespace weir::extensions::wasm {

inline constexpr std::string_view kWasmArtifactLayer =
    "application/vnd.module.wasm.content.layer.v1+wasm";
inline constexpr std::string_view kWasmArtifactConfig =
    "application/vnd.module.wasm.config.v1+json";
inline constexpr std::string_view kCncfWasmLayer = "application/wasm";
inline constexpr std::string_view kCncfWasmConfig = "application/vnd.wasm.config.v0+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";

struct PulledPlugin {
  std::string wasm;
  std::string manifest_digest;  // sha256:...
  std::string format;           // "wasm artifact image", "compat image", "CNCF wasm artifact"
};

// Resolves the reference, fetches the manifest and the plugin's layer, checks their
// digests and pulls the module out (from plugin.wasm for a compat image). Blobs already in
// the remote code cache are not fetched again.
Result<PulledPlugin> pull_wasm_plugin(OciRegistry& registry);

// The module inside a layer's bytes of `media_type` (tar, tar+gzip or raw wasm).
Result<std::string> wasm_from_layer(std::string_view media_type, std::string_view layer);

enum class ImageFormat { WasmArtifact, Compat, Cncf };
struct PushOptions {
  ImageFormat format = ImageFormat::WasmArtifact;
  bool docker_manifest = false;  // Docker v2 schema 2 media types instead of OCI's
  std::string layer_media_type;  // overrides the format's (for tests of refusal)
};
// Uploads the blobs and the manifest; returns the manifest's digest.
Result<std::string> push_wasm_plugin(OciRegistry& registry, const std::string& wasm,
                                     const PushOptions& options);

}  // namespace weir::extensions::wasm
