#include "server/config_watcher.h"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>

namespace weir::server {

namespace {
// A file is replaced by writing it in place (closed after writing), by renaming another
// file onto its name, or (`ln -sf`) by a new symlink; IN_ATTRIB catches a `touch`.
constexpr uint32_t kEvents = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB;
constexpr int kMaxSymlinkHops = 40;  // the kernel's own limit

// Where a change to `file` shows, as (directory, entry name) pairs: the file's own entry,
// and every symlink on the way to it, each in the directory that holds it. A Kubernetes
// ConfigMap volume is the case this is for: `config.yaml -> ..data/config.yaml`, and an
// update renames a new `..data` symlink into place; nothing named config.yaml changes.
std::vector<std::pair<std::string, std::string>> watch_points(const std::string& file) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, std::string>> points;
  std::error_code ec;
  const fs::path path = fs::absolute(file, ec).lexically_normal();
  if (ec) return points;
  const fs::path components = path.relative_path();
  std::deque<fs::path> rest(components.begin(), components.end());
  fs::path resolved = path.root_path();  // a physical directory: no symlink in it
  int hops = 0;
  while (!rest.empty()) {
    const fs::path part = rest.front();
    rest.pop_front();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      resolved = resolved.parent_path();
      continue;
    }
    const fs::path candidate = resolved / part;
    const bool link = fs::is_symlink(candidate, ec) && hops < kMaxSymlinkHops;
    if (link || rest.empty()) points.emplace_back(resolved.string(), part.string());
    const fs::path target = link ? fs::read_symlink(candidate, ec) : fs::path();
    if (!link || ec) {
      resolved = candidate;
      continue;
    }
    ++hops;
    if (target.is_absolute()) resolved = target.root_path();
    const fs::path relative = target.relative_path();
    rest.insert(rest.begin(), relative.begin(), relative.end());
  }
  return points;
}
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
  files_ = files;
  arm();
  return true;
}

// New watches are added before old ones go, so that no change falls between the two (a
// directory watched before and after keeps its watch descriptor).
void ConfigWatcher::arm() {
  names_.clear();
  for (const auto& file : files_) {
    for (auto& [dir, name] : watch_points(file)) names_[dir].insert(std::move(name));
  }
  std::map<int, std::string> watches;
  for (const auto& [dir, names] : names_) {
    int wd = inotify_add_watch(fd_, dir.c_str(), kEvents);
    if (wd < 0) {
      spdlog::warn("config watcher: cannot watch {}: {}", dir, strerror(errno));
      continue;
    }
    watches[wd] = dir;
  }
  for (const auto& [wd, dir] : dir_of_watch_) {
    if (!watches.count(wd)) inotify_rm_watch(fd_, wd);
  }
  dir_of_watch_ = std::move(watches);
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
  arm();  // a symlink that moved leads to other directories now
  if (settle_timer_) loop_.cancel_timer(settle_timer_);
  settle_timer_ = loop_.add_timer(settle_, [this] {
    settle_timer_ = 0;
    on_change_();
  });
}

}  // namespace weir::server
