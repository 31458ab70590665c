// weir: an HTTP proxy that runs Proxy-Wasm plugins, configured like Envoy.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>

#include "server/server.h"

namespace {

std::string default_code_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/weir/code-cache";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::string(home) + "/.cache/weir/code-cache";
  return "";  // nowhere sensible: no cache
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir: a small, fast HTTP proxy for Proxy-Wasm plugins, configured like Envoy"};
  weir::server::ServerOptions options;
  std::string log_level = "info";
  std::string mode = "serve";
  app.add_option("-c,--config-path", options.config_path, "Envoy v3 bootstrap YAML file")
      ->required();
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
  CLI11_PARSE(app, argc, argv);

  if (log_level == "warning") log_level = "warn";
  auto level = spdlog::level::from_str(log_level);
  if (level == spdlog::level::off && log_level != "off") {
    fprintf(stderr, "unknown log level '%s'\n", log_level.c_str());
    return 1;
  }
  spdlog::set_level(level);
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e][%t][%^%l%$] %v");
  options.validate_only = mode == "validate";
  options.watch_config = !no_watch;
  return weir::server::run(options);
}
