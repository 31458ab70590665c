#include "extensions/common/wasm/plugin_cli.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "extensions/common/wasm/oci_registry.h"
#include "extensions/common/wasm/oci_wasm_image.h"
#include "extensions/common/wasm/remote_code_cache.h"

namespace weir::extensions::wasm {

namespace {

Result<OciRegistry> open_registry(const PluginCliOptions& options) {
  auto ref = parse_oci_reference(options.reference);
  if (!ref.ok()) return Error{ref.error()};
  auto credentials = load_registry_credentials(options.docker_config, ref.value().registry);
  if (!credentials.ok()) return Error{credentials.error()};
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_s * 1000));
  return OciRegistry(ref.value(), HttpRoute{}, options.plain_http, std::move(credentials.value()),
                     timeout);
}

int fail(const std::string& message) {
  std::fprintf(stderr, "weir plugin: %s\n", message.c_str());
  return 1;
}

}  // namespace

int run_plugin_push(const PluginCliOptions& options) {
  std::ifstream in(options.file, std::ios::binary);
  if (!in) return fail("cannot read '" + options.file + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > kMaxLayerBytes) return fail("'" + options.file + "' is over 64 MiB");
  PushOptions push;
  if (options.format == "wasm") {
    push.format = ImageFormat::WasmArtifact;
  } else if (options.format == "compat") {
    push.format = ImageFormat::Compat;
  } else if (options.format == "cncf") {
    push.format = ImageFormat::Cncf;
  } else {
    return fail("unknown format '" + options.format + "' (wasm, compat, cncf)");
  }
  push.docker_manifest = options.docker_manifest;
  push.layer_media_type = options.layer_media_type;
  auto registry = open_registry(options);
  if (!registry.ok()) return fail(registry.error());
  auto digest = push_wasm_plugin(registry.value(), ss.str(), push);
  if (!digest.ok()) return fail(digest.error());
  std::printf("%s@%s\n", options.reference.c_str(), digest.value().c_str());
  return 0;
}

int run_plugin_pull(const PluginCliOptions& options) {
  set_remote_code_cache_dir("");  // the CLI always asks the registry
  auto registry = open_registry(options);
  if (!registry.ok()) return fail(registry.error());
  auto pulled = pull_wasm_plugin(registry.value());
  if (!pulled.ok()) return fail(pulled.error());
  std::ofstream out(options.file, std::ios::binary | std::ios::trunc);
  out.write(pulled.value().wasm.data(), static_cast<std::streamsize>(pulled.value().wasm.size()));
  if (!out.flush()) return fail("cannot write '" + options.file + "'");
  std::printf("%s (%s, manifest %s, sha256 %s)\n", options.file.c_str(),
              pulled.value().format.c_str(), pulled.value().manifest_digest.c_str(),
              sha256_hex(pulled.value().wasm).c_str());
  return 0;
}

}  // namespace weir::extensions::wasm
