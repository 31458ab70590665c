#pragma once
// The whole process: load config, build plugins and listeners, run the workers and the
// admin interface, and shut down cleanly on SIGINT/SIGTERM or POST /quitquitquit; reload
// the config on SIGHUP, POST /reload or a change to its files.
#include <string>

namespace weir::server {

struct ServerOptions {
  std::string config_path;
  unsigned concurrency = 0;  // 0: one worker per core
  bool validate_only = false;
  bool allow_unknown_fields = false;
  double drain_time_s = 10;    // how long in-flight requests may take to finish at shutdown
  std::string code_cache_dir;  // compiled plugin code kept between runs; empty: none
  bool watch_config = true;    // reload when the config file or a plugin file changes
};

// Returns the process exit code.
int run(const ServerOptions& options);

}  // namespace weir::server
