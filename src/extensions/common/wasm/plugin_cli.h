#pragma once
// `weir plugin push FILE oci://...` and `weir plugin pull oci://... -o FILE`: the plugin
// author's loop (build, push, weir pulls it) without other tools.
#include <string>

namespace weir::extensions::wasm {

struct PluginCliOptions {
  std::string file;              // push: the module to send; pull: where to write it
  std::string reference;         // oci://REGISTRY/REPO:TAG or @sha256:...
  std::string format = "wasm";   // push: wasm (Wasm artifact image), compat, cncf
  bool docker_manifest = false;  // push: Docker v2 schema 2 media types
  std::string layer_media_type;  // push: override (for testing refusals)
  bool plain_http = false;       // talk HTTP, not HTTPS, to the registry
  std::string docker_config;     // credentials file (docker config.json); "": the default one
  double timeout_s = 30;
};

// Exit codes: 0 done, 1 failed (the reason on stderr).
int run_plugin_push(const PluginCliOptions& options);
int run_plugin_pull(const PluginCliOptions& options);

}  // namespace weir::extensions::wasm
