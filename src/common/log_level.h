#pragma once
// The default logger's level, mirrored where reading it costs one load. Plugins call
// proxy_log on every callback (the AssemblyScript SDK logs each one at debug level), and
// asking spdlog goes through its registry each time. Change the level only through
// set_log_level, so that the mirror follows.
#include <spdlog/spdlog.h>

#include <atomic>

namespace weir {

inline std::atomic<int> g_log_level{spdlog::level::info};

inline void set_log_level(spdlog::level::level_enum level) {
  spdlog::set_level(level);
  g_log_level.store(level, std::memory_order_relaxed);
}

inline spdlog::level::level_enum log_level() {
  return static_cast<spdlog::level::level_enum>(g_log_level.load(std::memory_order_relaxed));
}

inline bool log_enabled(spdlog::level::level_enum level) {
  return level >= g_log_level.load(std::memory_order_relaxed);
}

}  // namespace weir
