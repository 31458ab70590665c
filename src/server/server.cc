#include "server/server.h"

#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
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
#include "server/config_generation.h"
#include "server/config_watcher.h"
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

// The listening socket for a listener: the previous generation's for the same address (a
// reload keeps it: nothing queued in its backlog is lost), else a new one.
Result<std::shared_ptr<ListenSocket>> socket_for(
    const config::ListenerConfig& listener, const net::Address& address,
    const ConfigGeneration* previous, const std::vector<std::shared_ptr<ListenSocket>>& taken) {
  std::string key = listener_stat_name(address);
  if (address.port() == 0) key += "/" + listener.name;  // an ephemeral port: the same listener
  if (previous) {
    for (const auto& socket : previous->sockets) {
      if (socket->key != key) continue;
      if (std::find(taken.begin(), taken.end(), socket) != taken.end()) break;
      return socket;
    }
  }
  auto fd = net::listen_on(address, false, listener.tcp_backlog_size);
  if (!fd) return Error{"listener '" + listener.name + "': " + fd.error()};
  auto socket = std::make_shared<ListenSocket>();
  socket->fd = *fd;
  socket->key = std::move(key);
  return socket;
}

// `sockets`: where the listening sockets go (parallel to the plans); null: none are bound
// (--mode validate).
Result<std::vector<ListenerPlan>> plan_listeners(
    const config::BootstrapConfig& config, wasm::Engine& engine, stats::StatsStore& stats,
    const ConfigGeneration* previous, std::vector<std::shared_ptr<ListenSocket>>* sockets) {
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
    if (sockets) {
      auto socket = socket_for(listener, *address, previous, *sockets);
      if (!socket) return Error{socket.error()};
      plan.fd = (*socket)->fd;
      sockets->push_back(std::move(*socket));
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

// A generation from a loaded config: clusters, listener plans (plugins compiled and
// trial-started), sockets (shared with `previous` where the address is the same) and
// bootstrap services. Nothing serves from it yet.
Result<std::shared_ptr<ConfigGeneration>> build_generation(config::BootstrapConfig config,
                                                           wasm::Engine& engine,
                                                           stats::StatsStore& stats,
                                                           const ConfigGeneration* previous,
                                                           bool bind_sockets) {
  auto generation = std::make_shared<ConfigGeneration>();
  generation->config = std::move(config);
  generation->engine = &engine;
  const config::BootstrapConfig& c = generation->config;
  auto clusters = proxy::ClusterManager::create(c.clusters, stats);
  if (!clusters) return Error{clusters.error()};
  generation->clusters = std::move(*clusters);
  auto plans =
      plan_listeners(c, engine, stats, previous, bind_sockets ? &generation->sockets : nullptr);
  if (!plans) return Error{plans.error()};
  generation->listeners = std::move(*plans);
  for (const auto& service : c.wasm_services) {
    auto definition = extensions::wasm::create_wasm_service_definition(service, engine, stats);
    if (!definition) return Error{service.location.to_string() + ": " + definition.error()};
    generation->wasm_services.push_back(std::move(*definition));
  }
  return generation;
}

// What a reload cannot change (read once at start-up): an error naming it, else empty.
std::string needs_restart(const config::BootstrapConfig& live,
                          const config::BootstrapConfig& next) {
  const bool admin_same =
      live.admin.has_value() == next.admin.has_value() &&
      (!live.admin || (live.admin->address.address == next.admin->address.address &&
                       live.admin->address.port == next.admin->address.port));
  if (!admin_same) return "admin: its address changed, which needs a restart";
  if (live.overload.max_active_downstream_connections !=
      next.overload.max_active_downstream_connections) {
    return "overload_manager: the global connection limit changed, which needs a restart";
  }
  const auto& a = live.stats_config;
  const auto& b = next.stats_config;
  bool tags_same = a.use_all_default_tags == b.use_all_default_tags &&
                   a.stats_tags.size() == b.stats_tags.size();
  for (size_t i = 0; tags_same && i < a.stats_tags.size(); ++i) {
    tags_same = a.stats_tags[i].tag_name == b.stats_tags[i].tag_name &&
                a.stats_tags[i].regex == b.stats_tags[i].regex &&
                a.stats_tags[i].fixed_value == b.stats_tags[i].fixed_value;
  }
  if (!tags_same) return "stats_config: the stats tags changed, which needs a restart";
  return "";
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{path + ": cannot open: " + std::strerror(errno)};
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return Error{path + ": cannot read: " + std::strerror(errno)};
  return text;
}

}  // namespace

int run(const ServerOptions& options) {
  config::LoadOptions load_options;
  load_options.allow_unknown_fields = options.allow_unknown_fields;
  // The text is read once: /config_dump shows exactly what loaded.
  auto text = read_file(options.config_path);
  auto loaded = text ? config::load_bootstrap_string(*text, options.config_path, load_options)
                     : Result<config::LoadOutcome>(Error{text.error()});
  if (!loaded) {
    spdlog::critical("error loading configuration: {}", loaded.error());
    return 1;
  }
  for (const auto& w : loaded->warnings) spdlog::warn("{}", w);

  // Signals arrive on the main loop through a signalfd; no other thread may take them.
  // Blocked before the engine starts: its helper threads (and every thread started
  // later) inherit the mask, else SIGTERM would kill the process without a drain.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);  // reload
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
    // --mode validate: first a report on every plugin (what it exports, what it imports that
    // weir lacks), printed even if a trial start below fails. Kept alive so that the trial
    // starts reuse the compiled modules.
    std::vector<proxy_wasm::PluginReport> plugin_reports;
    if (options.validate_only) plugin_reports = print_plugin_reports(loaded->config, **engine);
    event::EventLoop main_loop;
    // The files are watched from before the plugins compile and the workers start (seconds,
    // for a large plugin): a change made in that time reloads once the main loop runs, and
    // one made once weir serves is never missed.
    std::function<void()> on_files_changed;  // the reload, once it exists
    std::unique_ptr<ConfigWatcher> watcher;
    if (options.watch_config && !options.validate_only) {
      watcher = std::make_unique<ConfigWatcher>(main_loop, [&] {
        if (on_files_changed) on_files_changed();
      });
      auto files = code_files_of(loaded->config);
      files.push_back(options.config_path);
      watcher->watch(files);
    }
    auto first = build_generation(std::move(loaded->config), **engine, stats, nullptr,
                                  !options.validate_only);
    if (!first) {
      spdlog::critical("{}", first.error());
      return 1;
    }
    if (options.validate_only) {
      spdlog::info("configuration '{}' OK", options.config_path);
      return 0;
    }
    // The generation serving new connections, and the replaced ones still serving
    // connections accepted before their reload.
    std::shared_ptr<ConfigGeneration> live = std::move(*first);
    std::vector<std::shared_ptr<ConfigGeneration>> replaced;
    live->version = 1;
    live->loaded_at = std::chrono::system_clock::now();
    live->config_dump = admin::config_dump_json_from_text(*text, live->loaded_at);
    const config::BootstrapConfig& config = live->config;  // start-up only settings

    int admin_fd = -1;
    if (config.admin) {
      auto address = net::resolve(config.admin->address.address, config.admin->address.port);
      auto fd = address ? net::listen_on(*address, false) : Result<int>(Error{address.error()});
      if (!fd) {
        spdlog::critical("admin: {}", fd.error());
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
    stats::Counter& reloads = stats.counter("server.config_reload");
    stats::Counter& reload_failures = stats.counter("server.config_reload_failure");
    stats::Gauge& reload_time = stats.gauge("server.config_reload_time_ms");
    std::vector<stats::TagSpecifier> tag_specifiers;
    for (const auto& tag : config.stats_config.stats_tags) {
      tag_specifiers.push_back({tag.tag_name, tag.regex, tag.fixed_value});
    }
    std::string tags_error;
    auto tags = stats::TagExtractor::create(tag_specifiers,
                                            config.stats_config.use_all_default_tags, &tags_error);
    if (!tags) {
      spdlog::critical("stats_config: {}", tags_error);
      return 1;
    }
    // The overload manager's global limit, shared by every worker and the admin.
    std::unique_ptr<net::ConnectionLimit> global_limit;
    if (config.overload.max_active_downstream_connections) {
      global_limit =
          std::make_unique<net::ConnectionLimit>(config.overload.max_active_downstream_connections);
    }
    const auto drain_time =
        std::chrono::milliseconds(static_cast<int64_t>(options.drain_time_s * 1000));
    std::vector<std::unique_ptr<Worker>> workers;
    for (unsigned i = 0; i < concurrency; ++i) {
      workers.push_back(std::make_unique<Worker>(i, *live, stats, global_limit.get(), drain_time));
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
        auto deadline = std::chrono::steady_clock::now() + drain_time;
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

      admin::AdminServer* admin_server = nullptr;
      // A reload: the new config is loaded, its plugins compiled and trial-started, and
      // every worker builds its state beside the serving one; only then do they switch.
      // Anything failing on the way leaves the serving configuration untouched.
      auto reload = [&](std::string_view trigger) -> Status {
        if (shutting_down) return Error{"the server is shutting down"};
        const auto started = std::chrono::steady_clock::now();
        spdlog::info("reloading '{}' ({})", options.config_path, trigger);
        std::string next_text;
        std::vector<std::string> attempted_files;  // plugin files the new config names
        auto built = [&]() -> Result<std::shared_ptr<ConfigGeneration>> {
          auto read = read_file(options.config_path);
          if (!read) return Error{read.error()};
          next_text = std::move(*read);
          auto next = config::load_bootstrap_string(next_text, options.config_path, load_options);
          if (!next) {
            // A plugin file it names may be missing yet (a deploy writing the config
            // first): watch it, so that its arrival reloads.
            config::LoadOptions lenient = load_options;
            lenient.check_code_files = false;
            if (auto partial =
                    config::load_bootstrap_string(next_text, options.config_path, lenient)) {
              attempted_files = code_files_of(partial->config);
            }
            return Error{next.error()};
          }
          for (const auto& w : next->warnings) spdlog::warn("{}", w);
          if (auto restart = needs_restart(live->config, next->config); !restart.empty()) {
            return Error{options.config_path + ": " + restart};
          }
          attempted_files = code_files_of(next->config);
          auto generation = build_generation(std::move(next->config), **engine, stats, live.get(),
                                             /*bind_sockets=*/true);
          if (!generation) return Error{generation.error()};
          for (size_t i = 0; i < workers.size(); ++i) {
            Status prepared = workers[i]->prepare(**generation);
            if (!prepared) {
              for (size_t j = 0; j < i; ++j) workers[j]->abort();
              (*generation)->sockets.clear();   // listeners it added close now
              replaced.push_back(*generation);  // destroyed once the workers let go
              return Error{prepared.error()};
            }
          }
          return *generation;
        }();
        if (!built) {
          // A plugin file the failed config names (missing, broken) is watched too: fixing
          // it reloads.
          if (watcher && !attempted_files.empty()) {
            auto files = live->code_files();
            files.insert(files.end(), attempted_files.begin(), attempted_files.end());
            files.push_back(options.config_path);
            watcher->watch(files);
          }
          reload_failures.inc();
          spdlog::error("reload failed, the previous configuration keeps serving: {}",
                        built.error());
          return Error{built.error()};
        }
        for (auto& w : workers) w->commit();
        std::shared_ptr<ConfigGeneration> previous = std::move(live);
        live = std::move(*built);
        live->version = previous->version + 1;
        live->loaded_at = std::chrono::system_clock::now();
        live->config_dump = admin::config_dump_json_from_text(next_text, live->loaded_at);
        // Every worker stopped accepting on the old sockets: those the new config does not
        // use close now, the others are shared.
        previous->sockets.clear();
        replaced.push_back(std::move(previous));
        if (admin_server) {
          admin_server->context().clusters = live->clusters.get();
          admin_server->context().config_dump = live->config_dump;
        }
        if (watcher) {
          auto files = live->code_files();
          files.push_back(options.config_path);
          watcher->watch(files);
        }
        reloads.inc();
        reload_time.set(std::chrono::duration_cast<std::chrono::milliseconds>(
                            live->loaded_at.time_since_epoch())
                            .count());
        spdlog::info(
            "reload done: configuration version {}, {} listener(s), in {:.1f} ms", live->version,
            live->listeners.size(),
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                .count());
        return Ok{};
      };

      int sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
      // Without its signalfd, weir could not drain on SIGTERM: that is a failed start.
      if (sig_fd < 0 || !main_loop.watch(sig_fd, [&](uint32_t events) {
            if (events & event::kWatchFailed) return;
            signalfd_siginfo info;
            while (read(sig_fd, &info, sizeof info) == sizeof info) {
              if (info.ssi_signo == SIGHUP) {
                (void)reload("SIGHUP");
              } else {
                begin_shutdown();
              }
            }
          })) {
        spdlog::critical("cannot receive signals: {}", strerror(errno));
        if (sig_fd >= 0) close(sig_fd);
        for (auto& w : workers) w->stop();
        for (auto& w : workers) w->join();
        return 1;
      }
      on_files_changed = [&] { (void)reload("file changed"); };
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
        for (auto& plan : live->listeners) {
          if (plan.tls) plan.tls->reload_changed_files();
        }
        for (const auto& [name, cluster] : live->clusters->clusters()) {
          if (cluster.tls) cluster.tls->reload_changed_files();
        }
        // Replaced configurations go once no worker uses them any more.
        std::erase_if(replaced, [](const auto& g) { return g->worker_states.load() == 0; });
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
        admin_context.reload = [&] { return reload("POST /reload"); };
        admin_context.tags = &*tags;
        admin_context.clusters = live->clusters.get();
        admin_context.config_dump = live->config_dump;
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
        admin_server = &admin;
        spdlog::info(
            "weir {} started: {} listener(s), {} worker(s){}", WEIR_VERSION, live->listeners.size(),
            concurrency,
            config.admin ? ", admin on port " + std::to_string(config.admin->address.port) : "");
        main_loop.run();
        admin_server = nullptr;
        watcher.reset();
        main_loop.unwatch(sig_fd);
        close(sig_fd);
      }
      for (auto& w : workers) w->stop();
      for (auto& w : workers) w->join();
      workers.clear();
      spdlog::info("all workers stopped");
    }
  }
  engine->reset();
  return exit_code;
}

}  // namespace weir::server
