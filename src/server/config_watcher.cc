#include "server/config_watcher.h"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace weir::server {

namespace {
// A file is replaced by writing it in place (closed after writing) or by renaming another
// file onto its name; IN_ATTRIB catches a `touch`.
constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB;
}  // namespace

ConfigWatcher::ConfigWatcher(event::EventLoop& loop, std::function<void()> on_change,
                             std::chrono::milliseconds settle)
    : loop_(loop), on_change_(std::move(on_change)), settle_(settle) {}

ConfigWatcher::~ConfigWatcher() {
  if (settle_timer_) loop_.cancel_timer(settle_timer_);
  if (fd_ >= 0) {
    loop_.unwatch(fd_);
    close(fd_);
  }
}

bool ConfigWatcher::watch(const std::vector<std::string>& files) {
  if (fd_ < 0) {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0 || !loop_.watch(fd_, [this](uint32_t events) {
          if (!(events & event::kWatchFailed)) on_readable();
        })) {
      spdlog::warn("config watcher: inotify unavailable ({}): reload with SIGHUP or POST /reload",
                   strerror(errno));
      if (fd_ >= 0) close(fd_);
      fd_ = -1;
      return false;
    }
  }
  for (const auto& [wd, dir] : dir_of_watch_) inotify_rm_watch(fd_, wd);
  dir_of_watch_.clear();
  names_.clear();
  for (const auto& file : files) {
    std::filesystem::path path = std::filesystem::absolute(file).lexically_normal();
    names_[path.parent_path().string()].insert(path.filename().string());
  }
  for (const auto& [dir, names] : names_) {
    int wd = inotify_add_watch(fd_, dir.c_str(), kEvents);
    if (wd < 0) {
      spdlog::warn("config watcher: cannot watch {}: {}", dir, strerror(errno));
      continue;
    }
    dir_of_watch_[wd] = dir;
  }
  return true;
}

void ConfigWatcher::on_readable() {
  alignas(inotify_event) char buffer[8192];
  bool changed = false;
  for (;;) {
    ssize_t n = read(fd_, buffer, sizeof buffer);
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
      at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        changed = true;  // events were lost: reload to be safe
        continue;
      }
      auto dir = dir_of_watch_.find(event->wd);
      if (dir == dir_of_watch_.end() || event->len == 0) continue;
      const auto& names = names_[dir->second];
      if (names.count(event->name)) {
        spdlog::debug("config watcher: {}/{} changed", dir->second, event->name);
        changed = true;
      }
    }
  }
  if (!changed) return;
  if (settle_timer_) loop_.cancel_timer(settle_timer_);
  settle_timer_ = loop_.add_timer(settle_, [this] {
    settle_timer_ = 0;
    on_change_();
  });
}

}  // namespace weir::server
