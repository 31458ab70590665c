#include "server/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "admin/admin_server.h"
#include "config/config.h"
#include "event/event_loop.h"
#include "extensions/filters/http/wasm/wasm_filter.h"
#include "net/socket.h"
#include "proxy/cluster_manager.h"
#include "server/listener_plan.h"
#include "server/worker.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

namespace weir::server {

namespace {

std::string listener_stat_name(const net::Address& address) {
  // Envoy names listener stats by address with ':' replaced: 0.0.0.0_8080.
  return address.ip() + "_" + std::to_string(address.port());
}

Result<std::vector<ListenerPlan>> plan_listeners(const config::BootstrapConfig& config,
                                                 wasm::Engine& engine, stats::StatsStore& stats,
                                                 bool bind_sockets) {
  std::vector<ListenerPlan> plans;
  for (const auto& listener : config.listeners) {
    ListenerPlan plan;
    plan.config = &listener;
    plan.routes = std::make_unique<proxy::RouteTable>(listener.http.route_config);
    for (const auto& filter : listener.http.http_filters) {
      if (filter.kind != config::HttpFilterConfig::Kind::Wasm) continue;
      auto definition = extensions::wasm::create_wasm_filter_definition(filter.wasm, engine, stats);
      if (!definition) {
        return Error{filter.location.to_string() + ": plugin '" + filter.wasm.name +
                     "': " + definition.error()};
      }
      plan.filters.push_back(std::move(*definition));
    }
    auto address = net::resolve(listener.address.address, listener.address.port);
    if (!address) return Error{listener.location.to_string() + ": " + address.error()};
    plan.stats = proxy::ConnectionManagerStats::create(stats, listener.http.stat_prefix,
                                                       listener_stat_name(*address));
    plan.port = listener.address.port;
    if (bind_sockets) {
      auto fd = net::listen_on(*address, false);
      if (!fd) return Error{"listener '" + listener.name + "': " + fd.error()};
      plan.fd = *fd;
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

void close_listeners(std::vector<ListenerPlan>& plans) {
  for (auto& p : plans) {
    if (p.fd >= 0) close(p.fd);
    p.fd = -1;
  }
}

}  // namespace

int run(const ServerOptions& options) {
  config::LoadOptions load_options;
  load_options.allow_unknown_fields = options.allow_unknown_fields;
  auto loaded = config::load_bootstrap_file(options.config_path, load_options);
  if (!loaded) {
    spdlog::critical("error loading configuration: {}", loaded.error());
    return 1;
  }
  for (const auto& w : loaded->warnings) spdlog::warn("{}", w);
  const config::BootstrapConfig& config = loaded->config;

  auto engine = wasm::create_spidermonkey_engine();
  if (!engine) {
    spdlog::critical("cannot start the Wasm engine: {}", engine.error());
    return 1;
  }
  int exit_code = 0;
  {
    stats::StatsStore stats;
    auto clusters = proxy::ClusterManager::create(config.clusters, stats);
    if (!clusters) {
      spdlog::critical("{}", clusters.error());
      return 1;
    }
    auto plans = plan_listeners(config, **engine, stats, !options.validate_only);
    if (!plans) {
      spdlog::critical("{}", plans.error());
      return 1;
    }
    if (options.validate_only) {
      spdlog::info("configuration '{}' OK", options.config_path);
      for (auto& plan : *plans) {
        for (auto& f : plan.filters) f->shutdown();
      }
      return 0;
    }

    int admin_fd = -1;
    if (config.admin) {
      auto address = net::resolve(config.admin->address.address, config.admin->address.port);
      auto fd = address ? net::listen_on(*address, false) : Result<int>(Error{address.error()});
      if (!fd) {
        spdlog::critical("admin: {}", fd.error());
        close_listeners(*plans);
        return 1;
      }
      admin_fd = *fd;
    }

    // Signals arrive on the main loop through a signalfd; workers never see them.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);

    unsigned concurrency = options.concurrency ? options.concurrency
                                               : std::max(1u, std::thread::hardware_concurrency());
    stats.gauge("server.concurrency").set(concurrency);
    stats.gauge("server.live").set(1);
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned i = 0; i < concurrency; ++i) {
      workers.push_back(std::make_unique<Worker>(i, *plans, **clusters, stats));
      Status started = workers.back()->start();
      if (!started) {
        spdlog::critical("{}", started.error());
        workers.pop_back();
        for (auto& w : workers) w->stop();
        workers.clear();
        exit_code = 1;
        break;
      }
    }

    if (exit_code == 0) {
      event::EventLoop main_loop;
      auto start_time = std::chrono::steady_clock::now();
      bool shutting_down = false;
      auto begin_shutdown = [&] {
        if (shutting_down) return;
        shutting_down = true;
        spdlog::info("shutting down: draining {} worker(s)", workers.size());
        for (auto& w : workers) w->drain();
        auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(options.drain_time_s * 1000));
        auto poll = std::make_shared<std::function<void()>>();
        *poll = [&, deadline, poll] {
          size_t open = 0;
          for (auto& w : workers) open += w->open_connections();
          if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
            main_loop.stop();
            return;
          }
          main_loop.add_timer(std::chrono::milliseconds(20), *poll);
        };
        main_loop.add_timer(std::chrono::milliseconds(0), *poll);
      };

      int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
      main_loop.watch(sig_fd, [&](uint32_t) {
        signalfd_siginfo info;
        while (read(sig_fd, &info, sizeof info) == sizeof info) begin_shutdown();
      });
      auto uptime_timer = std::make_shared<std::function<void()>>();
      *uptime_timer = [&, uptime_timer] {
        stats.gauge("server.uptime").set(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::steady_clock::now() - start_time)
                                             .count());
        main_loop.add_timer(std::chrono::seconds(1), *uptime_timer);
      };
      (*uptime_timer)();
      {
        admin::AdminServer admin(main_loop, admin_fd,
                                 admin::AdminContext{stats, concurrency, start_time, begin_shutdown});
        spdlog::info("weir {} started: {} listener(s), {} worker(s){}", WEIR_VERSION,
                     plans->size(), concurrency,
                     config.admin ? ", admin on port " + std::to_string(config.admin->address.port)
                                  : "");
        main_loop.run();
        main_loop.unwatch(sig_fd);
        close(sig_fd);
      }
      for (auto& w : workers) w->stop();
      for (auto& w : workers) w->join();
      workers.clear();
      spdlog::info("all workers stopped");
    }
    close_listeners(*plans);
    for (auto& plan : *plans) {
      for (auto& f : plan.filters) f->shutdown();
    }
  }
  engine->reset();
  return exit_code;
}

}  // namespace weir::server
