// weir: an HTTP proxy that runs Proxy-Wasm plugins, configured like Envoy.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "common/log_level.h"
#include "extensions/common/wasm/plugin_cli.h"
#include "extensions/common/wasm/remote_code_cache.h"
#include "server/server.h"

namespace {

std::string default_code_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/weir/code-cache";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::string(home) + "/.cache/weir/code-cache";
  return "";  // nowhere sensible: no cache
}

int run_main(int argc, char** argv) {
  CLI::App app{"weir: a small, fast HTTP proxy for Proxy-Wasm plugins, configured like Envoy"};
  weir::server::ServerOptions options;
  std::string log_level = "info";
  std::string mode = "serve";
  auto* config_path =
      app.add_option("-c,--config-path", options.config_path, "Envoy v3 bootstrap YAML file");
  app.add_option("--concurrency", options.concurrency, "worker threads (default: one per core)");
  app.add_option("-l,--log-level", log_level,
                 "trace, debug, info, warning/warn, error, critical, off");
  app.add_option("--mode", mode, "serve (default) or validate: check the config and plugins, exit")
      ->check(CLI::IsMember({"serve", "validate"}));
  app.add_flag("--allow-unknown-static-fields", options.allow_unknown_fields,
               "warn about unknown config fields instead of rejecting them");
  app.add_option("--drain-time-s", options.drain_time_s,
                 "seconds in-flight requests get to finish at shutdown (default 10)");
  options.code_cache_dir = default_code_cache_dir();
  app.add_option("--code-cache-dir", options.code_cache_dir,
                 "where compiled plugin code is kept between runs (default "
                 "${XDG_CACHE_HOME:-$HOME/.cache}/weir/code-cache; empty: no cache)");
  bool no_watch = false;
  app.add_flag("--disable-config-watch", no_watch,
               "reload only on SIGHUP or POST /reload, not when the config or a plugin file "
               "changes");
  app.set_version_flag("--version", "weir version " WEIR_VERSION);

  // weir plugin push|pull: publishing plugins to OCI registries.
  weir::extensions::wasm::PluginCliOptions plugin;
  auto* plugin_cmd = app.add_subcommand("plugin", "push or pull a plugin to/from an OCI registry");
  plugin_cmd->require_subcommand(1);
  auto* push = plugin_cmd->add_subcommand(
      "push", "push FILE as an image: weir plugin push FILE oci://REGISTRY/REPO:TAG");
  push->add_option("file", plugin.file, "the .wasm module")->required();
  push->add_option("reference", plugin.reference, "oci://REGISTRY/REPO:TAG")->required();
  push->add_option("--format", plugin.format,
                   "wasm (Wasm artifact image, default), compat (Istio's: a tar.gz layer with "
                   "plugin.wasm), cncf (an application/wasm layer)")
      ->check(CLI::IsMember({"wasm", "compat", "cncf"}));
  push->add_flag("--docker-manifest", plugin.docker_manifest,
                 "a Docker v2 schema 2 manifest instead of an OCI one");
  push->add_option("--layer-media-type", plugin.layer_media_type,
                   "the layer's media type, instead of the format's");
  auto* pull =
      plugin_cmd->add_subcommand("pull", "pull a plugin: weir plugin pull oci://... -o FILE");
  pull->add_option("reference", plugin.reference, "oci://REGISTRY/REPO:TAG or @sha256:...")
      ->required();
  pull->add_option("-o,--output", plugin.file, "where to write the module")->required();
  for (auto* command : {push, pull}) {
    command->add_flag("--plain-http", plugin.plain_http, "HTTP instead of HTTPS to the registry");
    command->add_option("--docker-config", plugin.docker_config,
                        "credentials: a docker config.json (default: $DOCKER_CONFIG/config.json "
                        "or ~/.docker/config.json)");
    command->add_option("--timeout", plugin.timeout_s, "seconds per request (default 30)");
  }
  CLI11_PARSE(app, argc, argv);
  if (push->parsed()) return weir::extensions::wasm::run_plugin_push(plugin);
  if (pull->parsed()) return weir::extensions::wasm::run_plugin_pull(plugin);
  if (config_path->count() == 0) {
    fprintf(stderr, "--config-path is required\n");
    return 106;  // CLI11's RequiredError code, as before
  }

  if (log_level == "warning") log_level = "warn";
  auto level = spdlog::level::from_str(log_level);
  if (level == spdlog::level::off && log_level != "off") {
    fprintf(stderr, "unknown log level '%s'\n", log_level.c_str());
    return 1;
  }
  weir::set_log_level(level);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e][%t][%^%l%$] %v");
  options.validate_only = mode == "validate";
  weir::extensions::wasm::set_remote_code_cache_dir(options.code_cache_dir);
  options.watch_config = !no_watch;
  return weir::server::run(options);
}

}  // namespace

int main(int argc, char** argv) {
  // Anything thrown past the code that handles its own errors (bad_alloc at start-up, a
  // library's exception) ends weir with a message and status 1, not std::terminate's abort.
  try {
    return run_main(argc, argv);
  } catch (const std::exception& e) {
    fprintf(stderr, "weir: %s\n", e.what());
  } catch (...) {
    fprintf(stderr, "weir: an unknown exception\n");
  }
  return 1;
}
