#pragma once
// The admin interface (Envoy's conventions): /stats, /ready, /server_info, /help and
// POST /quitquitquit, served from the main thread's event loop.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "event/event_loop.h"
#include "http/header_map.h"
#include "stats/stats_store.h"

namespace weir::admin {

struct AdminContext {
  stats::StatsStore& stats;
  unsigned concurrency = 1;
  std::chrono::steady_clock::time_point start_time;
  std::function<void()> quit;  // POST /quitquitquit
};

struct AdminResponse {
  uint32_t status = 200;
  std::string content_type = "text/plain; charset=UTF-8";
  std::string body;
};

class AdminServer {
 public:
  AdminServer(event::EventLoop& loop, int listen_fd, AdminContext context);
  ~AdminServer();
  // Handles one request (exposed for tests of the routing without sockets).
  AdminResponse handle(std::string_view method, std::string_view path_and_query);

 private:
  class Session;
  void accept_all();

  event::EventLoop& loop_;
  int listen_fd_;
  AdminContext context_;
  std::unordered_map<Session*, std::unique_ptr<Session>> sessions_;
};

}  // namespace weir::admin
