#pragma once
// The admin interface (Envoy's conventions): /stats (text, json, prometheus), /ready,
// /server_info, /clusters, /config_dump, /logging, /help, POST /reload and POST /quitquitquit,
// served from the main thread's event loop. Requests that change the server (POST endpoints,
// /logging with a level) are refused from non-loopback peers unless allowed.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "event/event_loop.h"
#include "http/header_map.h"
#include "net/acceptor.h"
#include "stats/stats_store.h"
#include "stats/tag_extractor.h"

namespace weir::proxy {
class ClusterManager;
}

namespace weir::admin {

struct AdminContext {
  stats::StatsStore& stats;
  unsigned concurrency = 1;
  std::chrono::steady_clock::time_point start_time;
  std::function<void()> quit{};  // POST /quitquitquit
  // Optional parts (tests of single endpoints leave them out).
  const stats::TagExtractor* tags = nullptr;        // default: Envoy's default tags
  const proxy::ClusterManager* clusters = nullptr;  // /clusters
  std::string config_dump{};                        // /config_dump body (JSON)
  std::string config_path{};                        // /server_info
  std::function<bool()> draining{};                 // /ready answers 503 while true
  bool allow_remote_writes = false;                 // WEIR_ADMIN_ALLOW_REMOTE_WRITES=1
  // Decides whether a connection just accepted may stay (the server's connection limits):
  // a handle to keep while it is open, or nullopt to close it at once. Unset: all stay.
  std::function<std::optional<std::shared_ptr<void>>()> admit_connection{};
  // POST /reload: loads the config file again; the error when the old one keeps serving.
  std::function<Status()> reload{};
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
  AdminResponse handle(std::string_view method, std::string_view path_and_query,
                       bool from_loopback = true);
  // What the server changes after a reload (/clusters, /config_dump).
  AdminContext& context() { return context_; }

 private:
  class Session;
  void on_accept(int fd, const net::Address& peer);

  event::EventLoop& loop_;
  int listen_fd_;
  AdminContext context_;
  std::unique_ptr<net::Acceptor> acceptor_;
  std::unordered_map<Session*, std::unique_ptr<Session>> sessions_;
};

}  // namespace weir::admin
