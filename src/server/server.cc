#include "server/server.h"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>

#include "access_log/access_logger.h"
#include "admin/admin_server.h"
#include "admin/config_dump.h"
#include "config/config.h"
#include "event/event_loop.h"
#include "extensions/bootstrap/wasm/wasm_service.h"
#include "extensions/common/wasm/plugin_loader.h"
#include "extensions/filters/http/wasm/wasm_filter.h"
#include "extensions/filters/network/wasm/network_wasm_filter.h"
#include "net/socket.h"
#include "proxy/cluster_manager.h"
#include "proxy/tls_config.h"
#include "proxy_wasm/plugin_report.h"
#include "server/listener_plan.h"
#include "server/worker.h"
#include "stats/stats_store.h"
#include "stats/tag_extractor.h"
#include "wasm/engine/engine.h"

#if defined(__SANITIZE_ADDRESS__)
// ASan's allocator statistics (clang's <sanitizer/allocator_interface.h>; gcc has no header).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
extern "C" size_t __sanitizer_get_heap_size();
#endif

namespace weir::server {

namespace {

std::string listener_stat_name(const net::Address& address) {
  // Envoy names listener stats by address with ':' replaced: 0.0.0.0_8080.
  return address.ip() + "_" + std::to_string(address.port());
}

// Envoy's server.* memory gauges, from glibc's allocator and /proc.
void update_memory_stats(stats::StatsStore& stats) {
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer (make test-asan) malloc is ASan's; glibc's arenas stay empty.
  stats.gauge("server.memory_allocated")
      .set(static_cast<int64_t>(__sanitizer_get_current_allocated_bytes()));
  stats.gauge("server.memory_heap_size").set(static_cast<int64_t>(__sanitizer_get_heap_size()));
#else
  struct mallinfo2 info = mallinfo2();
  stats.gauge("server.memory_allocated").set(static_cast<int64_t>(info.uordblks + info.hblkhd));
  stats.gauge("server.memory_heap_size").set(static_cast<int64_t>(info.arena + info.hblkhd));
#endif
  long pages_resident = 0, pages_total = 0;
  if (FILE* statm = fopen("/proc/self/statm", "r")) {
    if (fscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    fclose(statm);
  }
  stats.gauge("server.memory_physical_size").set(pages_resident * sysconf(_SC_PAGESIZE));
}

// A listener whose filter chain ends in tcp_proxy: its network Wasm filters (compiled and
// trial-started here) and access logs.
Status plan_tcp_proxy_listener(const config::ListenerConfig& listener, wasm::Engine& engine,
                               stats::StatsStore& stats,
                               std::shared_ptr<access_log::FileWriter>& access_log_writer,
                               ListenerPlan& plan) {
  for (const auto& filter : listener.network_wasm_filters) {
    auto definition =
        extensions::wasm::create_network_wasm_filter_definition(filter, engine, stats);
    if (!definition) {
      return Error{filter.location.to_string() + ": plugin '" + filter.name +
                   "': " + definition.error()};
    }
    plan.network_filters.push_back(std::move(*definition));
  }
  if (!listener.tcp_proxy->access_logs.empty()) {
    if (!access_log_writer) access_log_writer = std::make_shared<access_log::FileWriter>();
    auto logs =
        access_log::ListenerAccessLogs::create(listener.tcp_proxy->access_logs, access_log_writer);
    if (!logs) return Error{logs.error()};
    plan.access_logs = std::move(*logs);
  }
  return Ok{};
}

Result<std::vector<ListenerPlan>> plan_listeners(const config::BootstrapConfig& config,
                                                 wasm::Engine& engine, stats::StatsStore& stats,
                                                 bool bind_sockets) {
  const bool global_limit = config.overload.max_active_downstream_connections.has_value();
  std::vector<ListenerPlan> plans;
  std::shared_ptr<access_log::FileWriter> access_log_writer;  // one thread for every log file
  for (const auto& listener : config.listeners) {
    ListenerPlan plan;
    plan.config = &listener;
    // A tcp_proxy listener's HTTP config is empty: the HTTP steps below do nothing for it.
    if (listener.tcp_proxy) {
      auto planned = plan_tcp_proxy_listener(listener, engine, stats, access_log_writer, plan);
      if (!planned) return Error{planned.error()};
    }
    plan.routes = std::make_unique<proxy::RouteTable>(listener.http.route_config);
    for (size_t position = 0; position < listener.http.http_filters.size(); ++position) {
      const auto& filter = listener.http.http_filters[position];
      if (filter.kind != config::HttpFilterConfig::Kind::Wasm) continue;
      // Keyed by the plugin's name (its config's `name`), which stays put when filters
      // are added or reordered; a name used twice in one chain gets its position too.
      std::string key = filter.wasm.name;
      for (size_t other = 0; other < position; ++other) {
        const auto& before = listener.http.http_filters[other];
        if (before.kind == config::HttpFilterConfig::Kind::Wasm && before.wasm.name == key) {
          key += "_" + std::to_string(position);
          break;
        }
      }
      stats::Histogram& time_us = stats.histogram("http." + listener.http.stat_prefix + ".wasm." +
                                                  key + ".rq_wasm_time_us");
      auto definition =
          extensions::wasm::create_wasm_filter_definition(filter.wasm, engine, stats, &time_us);
      if (!definition) {
        return Error{filter.location.to_string() + ": plugin '" + filter.wasm.name +
                     "': " + definition.error()};
      }
      plan.filters.push_back(std::move(*definition));
    }
    if (!listener.http.access_logs.empty()) {
      if (!access_log_writer) access_log_writer = std::make_shared<access_log::FileWriter>();
      auto logs =
          access_log::ListenerAccessLogs::create(listener.http.access_logs, access_log_writer);
      if (!logs) return Error{logs.error()};
      plan.access_logs = std::move(*logs);
    }
    auto address = net::resolve(listener.address.address, listener.address.port);
    if (!address) return Error{listener.location.to_string() + ": " + address.error()};
    if (listener.tcp_proxy) {
      plan.tcp_stats = extensions::tcp_proxy::TcpProxyStats::create(
          stats, listener.tcp_proxy->stat_prefix, listener_stat_name(*address));
    } else {
      plan.stats = proxy::ConnectionManagerStats::create(stats, listener.http.stat_prefix,
                                                         listener_stat_name(*address));
    }
    plan.accept_stats = std::make_unique<ListenerAcceptStats>(ListenerAcceptStats::create(
        stats, listener_stat_name(*address), global_limit && !listener.ignore_global_conn_limit));
    if (listener.connection_limit) {
      plan.connections = std::make_unique<net::ConnectionLimit>(listener.connection_limit);
    }
    const auto& chains = listener.filter_chains;
    const size_t tls_chains =
        std::count_if(chains.begin(), chains.end(), [](const auto& c) { return c.tls; });
    if (tls_chains > 0) {
      const std::string prefix = "listener." + listener_stat_name(*address) + ".";
      auto tls = net::tls::ServerContext::create(proxy::server_tls_options(chains),
                                                 net::tls::TlsStats::create(stats, prefix));
      if (!tls) return Error{"listener '" + listener.name + "': " + tls.error()};
      plan.tls = std::move(*tls);
      if (tls_chains < chains.size()) {  // mixed: the loader required the tls_inspector
        plan.tls_inspector =
            std::make_unique<net::tls::TlsInspectorConfig>(net::tls::TlsInspectorConfig{
                net::tls::TlsInspectorStats::create(stats, prefix),
                listener.listener_filters_timeout, listener.continue_on_listener_filters_timeout});
      }
    }
    plan.port = listener.address.port;
    if (bind_sockets) {
      auto fd = net::listen_on(*address, false, listener.tcp_backlog_size);
      if (!fd) return Error{"listener '" + listener.name + "': " + fd.error()};
      plan.fd = *fd;
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

std::vector<proxy_wasm::PluginReport> print_plugin_reports(const config::BootstrapConfig& config,
                                                           wasm::Engine& engine) {
  std::vector<const config::WasmPluginConfig*> plugins;
  for (const auto& listener : config.listeners) {
    for (const auto& filter : listener.http.http_filters) {
      if (filter.kind == config::HttpFilterConfig::Kind::Wasm) plugins.push_back(&filter.wasm);
    }
    for (const auto& filter : listener.network_wasm_filters) plugins.push_back(&filter);
  }
  for (const auto& service : config.wasm_services) plugins.push_back(&service);
  std::vector<proxy_wasm::PluginReport> reports;
  for (const auto* plugin : plugins) {
    reports.push_back(extensions::wasm::make_plugin_report(*plugin, engine));
    std::fputs(proxy_wasm::format_plugin_report(reports.back()).c_str(), stdout);
  }
  std::fflush(stdout);
  return reports;
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

  // Signals arrive on the main loop through a signalfd; no other thread may take them.
  // Blocked before the engine starts: its helper threads (and every thread started
  // later) inherit the mask, else SIGTERM would kill the process without a drain.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  wasm::EngineOptions engine_options;
  engine_options.code_cache_dir = options.code_cache_dir;
  auto engine = wasm::create_wasmtime_engine(engine_options);
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
    // --mode validate: first a report on every plugin (what it exports, what it imports that
    // weir lacks), printed even if a trial start below fails. Kept alive so that the trial
    // starts reuse the compiled modules.
    std::vector<proxy_wasm::PluginReport> plugin_reports;
    if (options.validate_only) plugin_reports = print_plugin_reports(config, **engine);
    auto plans = plan_listeners(config, **engine, stats, !options.validate_only);
    if (!plans) {
      spdlog::critical("{}", plans.error());
      return 1;
    }
    Worker::WasmServices wasm_services;
    for (const auto& service : config.wasm_services) {
      auto definition = extensions::wasm::create_wasm_service_definition(service, **engine, stats);
      if (!definition) {
        spdlog::critical("{}: {}", service.location.to_string(), definition.error());
        close_listeners(*plans);
        return 1;
      }
      wasm_services.push_back(std::move(*definition));
    }
    if (options.validate_only) {
      spdlog::info("configuration '{}' OK", options.config_path);
      for (auto& plan : *plans) {
        for (auto& f : plan.filters) f->shutdown();
        for (auto& f : plan.network_filters) f->shutdown();
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

    signal(SIGPIPE, SIG_IGN);

    unsigned concurrency = options.concurrency ? options.concurrency
                                               : std::max(1u, std::thread::hardware_concurrency());
    stats.gauge("server.concurrency").set(concurrency);
    stats.gauge("server.live").set(1);
    stats.gauge("server.state").set(0);  // Envoy: 0 LIVE, 1 DRAINING
    stats.gauge("server.hot_restart_epoch").set(0);
    std::vector<stats::TagSpecifier> tag_specifiers;
    for (const auto& tag : config.stats_config.stats_tags) {
      tag_specifiers.push_back({tag.tag_name, tag.regex, tag.fixed_value});
    }
    std::string tags_error;
    auto tags = stats::TagExtractor::create(tag_specifiers,
                                            config.stats_config.use_all_default_tags, &tags_error);
    if (!tags) {
      spdlog::critical("stats_config: {}", tags_error);
      close_listeners(*plans);
      return 1;
    }
    // The overload manager's global limit, shared by every worker and the admin.
    std::unique_ptr<net::ConnectionLimit> global_limit;
    if (config.overload.max_active_downstream_connections) {
      global_limit =
          std::make_unique<net::ConnectionLimit>(config.overload.max_active_downstream_connections);
    }
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned i = 0; i < concurrency; ++i) {
      workers.push_back(std::make_unique<Worker>(i, *plans, **clusters, stats, wasm_services,
                                                 global_limit.get()));
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
      // Timers that re-arm themselves, by reference: a std::function holding a shared_ptr to
      // itself would never be freed.
      std::function<void()> drain_poll, uptime_timer, flush_timer;
      auto start_time = std::chrono::steady_clock::now();
      bool shutting_down = false;
      auto begin_shutdown = [&] {
        if (shutting_down) return;
        shutting_down = true;
        stats.gauge("server.state").set(1);
        stats.gauge("server.live").set(0);
        spdlog::info("shutting down: draining {} worker(s)", workers.size());
        for (auto& w : workers) w->drain();
        auto deadline =
            std::chrono::steady_clock::now() +
            std::chrono::milliseconds(static_cast<int64_t>(options.drain_time_s * 1000));
        drain_poll = [&, deadline] {
          size_t open = 0;
          for (auto& w : workers) open += w->open_connections();
          if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
            main_loop.stop();
            return;
          }
          main_loop.add_timer(std::chrono::milliseconds(20), drain_poll);
        };
        main_loop.add_timer(std::chrono::milliseconds(0), drain_poll);
      };

      int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
      // Without its signalfd, weir could not drain on SIGTERM: that is a failed start.
      if (sig_fd < 0 || !main_loop.watch(sig_fd, [&](uint32_t events) {
            if (events & event::kWatchFailed) return;
            signalfd_siginfo info;
            while (read(sig_fd, &info, sizeof info) == sizeof info) begin_shutdown();
          })) {
        spdlog::critical("cannot receive signals: {}", strerror(errno));
        if (sig_fd >= 0) close(sig_fd);
        for (auto& w : workers) w->stop();
        for (auto& w : workers) w->join();
        close_listeners(*plans);
        return 1;
      }
      uptime_timer = [&] {
        stats.gauge("server.uptime")
            .set(std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                  start_time)
                     .count());
        update_memory_stats(stats);
        size_t connections = 0;
        for (auto& w : workers) connections += w->open_connections();
        stats.gauge("server.total_connections").set(static_cast<int64_t>(connections));
        // Certificates rotated on disk are served from the next handshake on.
        for (auto& plan : *plans) {
          if (plan.tls) plan.tls->reload_changed_files();
        }
        for (const auto& [name, cluster] : (*clusters)->clusters()) {
          if (cluster.tls) cluster.tls->reload_changed_files();
        }
        main_loop.add_timer(std::chrono::seconds(1), uptime_timer);
      };
      // Envoy's stats flush (5 s by default) ends a histogram interval: /stats shows the
      // last interval's quantiles next to the cumulative ones.
      flush_timer = [&] {
        stats.flush_histogram_intervals();
        main_loop.add_timer(std::chrono::seconds(5), flush_timer);
      };
      main_loop.add_timer(std::chrono::seconds(5), flush_timer);
      uptime_timer();
      {
        admin::AdminContext admin_context{stats, concurrency, start_time, begin_shutdown};
        admin_context.tags = &*tags;
        admin_context.clusters = clusters->get();
        admin_context.config_dump = admin::config_dump_json(options.config_path);
        admin_context.config_path = options.config_path;
        admin_context.draining = [&shutting_down] { return shutting_down; };
        const char* remote_writes = getenv("WEIR_ADMIN_ALLOW_REMOTE_WRITES");
        admin_context.allow_remote_writes = remote_writes && std::string(remote_writes) == "1";
        // Envoy counts admin connections toward the global limit unless the admin says
        // ignore_global_conn_limit.
        auto admin_stats = ListenerAcceptStats::create(stats, "admin", global_limit != nullptr);
        if (global_limit && config.admin && !config.admin->ignore_global_conn_limit) {
          admin_context.admit_connection = [&]() -> std::optional<std::shared_ptr<void>> {
            auto leases = admit_connection(global_limit.get(), nullptr, admin_stats);
            if (!leases) return std::nullopt;
            return std::make_shared<ConnectionLeases>(std::move(*leases));
          };
        }
        admin::AdminServer admin(main_loop, admin_fd, std::move(admin_context));
        spdlog::info(
            "weir {} started: {} listener(s), {} worker(s){}", WEIR_VERSION, plans->size(),
            concurrency,
            config.admin ? ", admin on port " + std::to_string(config.admin->address.port) : "");
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
      for (auto& f : plan.network_filters) f->shutdown();
    }
  }
  engine->reset();
  return exit_code;
}

}  // namespace weir::server
