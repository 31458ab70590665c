#pragma once
// Watches the config file and the files it names (plugin code) with inotify, and calls
// back once things have settled after a change. Directories are watched, not the files:
// an editor or a deploy tool that writes a new file and renames it over the old one
// (vim, `kubectl cp`, `mv`) replaces the inode a file watch would be stuck on. Symlinks on
// the way to a file are watched too (a Kubernetes ConfigMap update swaps one).
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "event/event_loop.h"

namespace weir::server {

class ConfigWatcher {
 public:
  // `on_change` runs on `loop`'s thread, `settle` after the last change seen (a file
  // written in several steps, or several files replaced together, give one call).
  ConfigWatcher(event::EventLoop& loop, std::function<void()> on_change,
                std::chrono::milliseconds settle = std::chrono::milliseconds(100));
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Watches exactly these files from now on (a reload may name other plugin files).
  // False (logged) when inotify is unavailable: reloads then need SIGHUP or POST /reload.
  bool watch(const std::vector<std::string>& files);

 private:
  void arm();  // (re)places the inotify watches for files_
  void on_readable();

  event::EventLoop& loop_;
  std::function<void()> on_change_;
  std::chrono::milliseconds settle_;
  int fd_ = -1;
  std::vector<std::string> files_;
  std::map<int, std::string> dir_of_watch_;             // inotify watch descriptor -> directory
  std::map<std::string, std::set<std::string>> names_;  // directory -> file names in it
  event::EventLoop::TimerId settle_timer_ = 0;
};

}  // namespace weir::server
