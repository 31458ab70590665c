#include "server/worker.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "extensions/common/wasm/worker_services.h"
#include "proxy_wasm/vm.h"
#include "server/config_generation.h"

namespace weir::server {

// Everything a worker builds from one configuration generation: upstream pools, the
// plugins' worker VMs (in filter factories and services), filter chains and acceptors.
// Connections point to the state they were accepted with, so a reload never changes the
// configuration under a stream in flight.
struct Worker::State {
  State(ConfigGeneration& g, uint64_t serial) : generation(&g), serial(serial) {
    generation->worker_states++;
  }
  ~State() {
    // Dependency order: connections (gone already) use setups (filters, VMs) and pools.
    acceptors.clear();
    setups.clear();
    tcp_setups.clear();
    running_services.clear();
    http_client.reset();
    pools.clear();
    // Last: the main thread may destroy the generation as soon as this reaches zero.
    generation->worker_states--;
  }

  ConfigGeneration* generation;
  const uint64_t serial;  // names this state in timers (its address may be reused)
  // Responses on this state's connections carry "connection: close" once it is set: when
  // the server drains, or when a reload replaced this state.
  bool draining = false;
  size_t connections = 0;  // HTTP and tcp_proxy connections accepted with this state
  std::map<std::string, std::unique_ptr<proxy::UpstreamPool>, std::less<>> pools;
  std::unique_ptr<proxy::AsyncHttpClient> http_client;
  std::unique_ptr<proxy::WorkerContext> context;
  std::vector<std::unique_ptr<extensions::wasm::RunningWasmService>> running_services;
  std::vector<std::unique_ptr<proxy::ConnectionManagerSetup>> setups;  // per listener
  // tcp_proxy listeners: per listener (null for HTTP ones).
  std::vector<std::unique_ptr<extensions::tcp_proxy::TcpProxySetup>> tcp_setups;
  std::vector<std::unique_ptr<net::Acceptor>> acceptors;  // one per listener, once live
};

Worker::Worker(unsigned index, ConfigGeneration& generation, stats::StatsStore& stats,
               net::ConnectionLimit* global_limit, std::chrono::milliseconds drain_time)
    : index_(index),
      first_generation_(&generation),
      stats_(stats),
      global_limit_(global_limit),
      drain_time_(drain_time) {}

Worker::~Worker() {
  if (thread_.joinable()) {
    stop();
    thread_.join();
  }
}

Status Worker::start() {
  std::promise<Status> ready;
  auto started = ready.get_future();
  thread_ = std::thread([this, &ready] { run(ready); });
  Status status = started.get();
  if (!status.ok()) thread_.join();
  return status;
}

Result<std::unique_ptr<Worker::State>> Worker::build_state(ConfigGeneration& generation) {
  auto state = std::make_unique<State>(generation, ++states_built_);
  State* s = state.get();
  for (const auto& [name, cluster] : generation.clusters->clusters()) {
    s->pools.emplace(name, std::make_unique<proxy::UpstreamPool>(*loop_, cluster));
  }
  auto find_pool = [s](std::string_view cluster) -> proxy::UpstreamPool* {
    auto it = s->pools.find(cluster);
    return it == s->pools.end() ? nullptr : it->second.get();
  };
  // Call ids apart from other states' clients: a plugin VM that outlives its state (a
  // reload keeps an unchanged VM) may cancel a call through the next state's client.
  s->http_client =
      std::make_unique<proxy::AsyncHttpClient>(*loop_, find_pool, (s->serial << 32) | 1);
  s->context = std::make_unique<proxy::WorkerContext>(
      proxy::WorkerContext{*loop_, stats_, index_, s->http_client.get()});
  const std::string worker = "worker " + std::to_string(index_) + ": ";
  // Bootstrap services first: filters may read what they share from their first request.
  for (const auto& service : generation.wasm_services) {
    if (!service->runs_on(index_)) continue;
    auto running = service->start_on_worker(*s->context);
    if (!running) return Error{worker + running.error()};
    s->running_services.push_back(std::move(*running));
  }
  const auto& listeners = generation.listeners;
  s->tcp_setups.resize(listeners.size());
  for (size_t i = 0; i < listeners.size(); ++i) {
    const ListenerPlan& plan = listeners[i];
    if (plan.config->tcp_proxy) {
      if (Status set_up = set_up_tcp_proxy(*s, i); !set_up) return Error{worker + set_up.error()};
      s->setups.push_back(nullptr);
      continue;
    }
    auto setup = std::unique_ptr<proxy::ConnectionManagerSetup>(
        new proxy::ConnectionManagerSetup{plan.config->http,
                                          *plan.routes,
                                          {},
                                          find_pool,
                                          *plan.stats,
                                          *loop_,
                                          plan.port,
                                          &s->draining});
    if (plan.access_logs) setup->access_log = plan.access_logs->create_worker_logger(*loop_);
    setup->tls = plan.tls.get();
    for (size_t f = 0; f < plan.filters.size(); ++f) {
      auto factory = plan.filters[f]->create_worker_factory(*s->context);
      if (!factory) return Error{worker + factory.error()};
      setup->filter_factories.push_back(std::move(*factory));
    }
    s->setups.push_back(std::move(setup));
  }
  return state;
}

void Worker::start_accepting(State& state) {
  const auto& listeners = state.generation->listeners;
  for (size_t i = 0; i < listeners.size(); ++i) {
    const ListenerPlan& plan = listeners[i];
    net::Acceptor::Options options{plan.config->name,
                                   plan.config->max_connections_to_accept_per_socket_event};
    State* s = &state;
    state.acceptors.push_back(std::make_unique<net::Acceptor>(
        *loop_, plan.fd, std::move(options),
        [this, s, i](int fd, const net::Address& peer) { on_accept(*s, i, fd, peer); },
        [&plan](int) { plan.accept_stats->downstream_cx_accept_paused.inc(); }));
  }
}

void Worker::run(std::promise<Status>& ready) {
  loop_ = std::make_unique<event::EventLoop>();
  auto state = build_state(*first_generation_);
  if (!state) {
    ready.set_value(Error{state.error()});
    return;
  }
  current_ = std::move(*state);
  start_accepting(*current_);
  ready.set_value(Ok{});
  loop_->run();
  // Tear down in dependency order: connections use setups (filters, VMs) and pools.
  stopping_ = true;
  for (auto& acceptor : current_->acceptors) acceptor.reset();
  inspecting_.clear();
  connections_.clear();
  tcp_connections_.clear();
  loop_->run_deferred();
  destroy_now(prepared_);
  for (auto& retiring : retiring_) destroy_now(retiring);
  retiring_.clear();
  destroy_now(current_);
  loop_.reset();
}

void Worker::run_on_worker(std::function<void()> fn) {
  std::promise<void> done;
  auto finished = done.get_future();
  loop_->post([&] {
    fn();
    done.set_value();
  });
  finished.get();
}

Status Worker::prepare(ConfigGeneration& next) {
  Status status = Ok{};
  run_on_worker([&] {
    auto state = build_state(next);
    if (state) {
      prepared_ = std::move(*state);
    } else {
      status = Error{state.error()};  // the partial state is gone already
      attach_plugins_to(*current_);
    }
  });
  return status;
}

void Worker::abort() {
  run_on_worker([&] {
    if (prepared_) destroy_later(std::move(prepared_));
    attach_plugins_to(*current_);
  });
}

void Worker::commit() {
  run_on_worker([&] {
    if (!prepared_) return;
    std::unique_ptr<State> old = std::move(current_);
    current_ = std::move(prepared_);
    // The old acceptors first: the same listening socket is watched by the new ones.
    old->acceptors.clear();
    if (draining_) {
      current_->draining = true;
    } else {
      start_accepting(*current_);
    }
    attach_plugins_to(*current_);
    retire(std::move(old));
  });
}

void Worker::attach_plugins_to(State& state) {
  // Preparing a state attached this thread's plugin runtime (timers, cluster calls) to the
  // prepared state's HTTP client; every VM of the thread calls clusters through the serving
  // state's, which lives at least as long as anything it is given.
  auto runtime = proxy_wasm::WorkerRuntime::for_current_thread(*state.generation->engine, stats_);
  if (runtime) extensions::wasm::attach_worker_services(**runtime, *state.context);
}

void Worker::retire(std::unique_ptr<State> state) {
  State* s = state.get();
  s->draining = true;
  retiring_.push_back(std::move(state));
  // Responses on its HTTP/1 connections now carry "connection: close": each closes after
  // its current (or next) response. Closing an idle one now could cut off a request already
  // on its way, so that waits for the drain time. HTTP/2 connections get a GOAWAY.
  std::vector<proxy::HttpConnectionManager*> http2;
  for (auto& [raw, open] : connections_) {
    if (open.state == s && raw->http2()) http2.push_back(raw);
  }
  for (auto* c : http2) c->drain();
  loop_->add_timer(drain_time_, [this, serial = s->serial] {
    if (stopping_) return;
    auto it = std::find_if(retiring_.begin(), retiring_.end(),
                           [serial](const auto& r) { return r->serial == serial; });
    if (it == retiring_.end()) return;  // gone already
    std::vector<proxy::HttpConnectionManager*> left;
    for (auto& [raw, open] : connections_) {
      if (open.state == it->get()) left.push_back(raw);
    }
    for (auto* c : left) c->drain();
  });
  destroy_when_unused(s);
}

void Worker::destroy_when_unused(State* state) {
  if (stopping_ || state == current_.get() || state->connections > 0) return;
  auto it = std::find_if(retiring_.begin(), retiring_.end(),
                         [state](const auto& r) { return r.get() == state; });
  if (it == retiring_.end()) return;
  std::unique_ptr<State> doomed = std::move(*it);
  retiring_.erase(it);
  destroy_later(std::move(doomed));
}

void Worker::destroy_later(std::unique_ptr<State> state) {
  // Step by step, each after the callbacks in progress and what the previous step
  // deferred, as at shutdown: connections' streams use the setups, whose plugins use the
  // services, the HTTP client and the pools.
  std::shared_ptr<State> s(std::move(state));
  loop_->defer([this, s] {
    s->acceptors.clear();
    s->setups.clear();
    s->tcp_setups.clear();
    loop_->defer([this, s] {
      s->running_services.clear();
      loop_->defer([this, s] {
        s->http_client.reset();
        loop_->defer([s] { s->pools.clear(); });  // the state goes with the last step
      });
    });
  });
}

void Worker::destroy_now(std::unique_ptr<State>& state) {
  if (!state) return;
  state->acceptors.clear();
  state->setups.clear();
  state->tcp_setups.clear();
  loop_->run_deferred();
  state->running_services.clear();
  loop_->run_deferred();
  state->http_client.reset();
  loop_->run_deferred();
  state->pools.clear();
  loop_->run_deferred();
  state.reset();
}

void Worker::connection_closed(State* state) {
  state->connections--;
  count_open_connections();
  destroy_when_unused(state);
}

void Worker::on_accept(State& state, size_t listener_index, int fd, const net::Address& peer) {
  if (draining_ || &state != current_.get()) {
    close(fd);
    return;
  }
  const ListenerPlan& plan = state.generation->listeners[listener_index];
  // Past a limit the connection is accepted and closed at once, as Envoy does: the
  // client sees a closed connection rather than a backlog that never drains.
  auto leases = admit_connection(plan.config->ignore_global_conn_limit ? nullptr : global_limit_,
                                 plan.connections.get(), *plan.accept_stats);
  if (!leases) {
    close(fd);
    return;
  }
  net::set_nodelay(fd);
  if (state.tcp_setups[listener_index]) {
    accept_tcp_proxy(state, listener_index, fd, peer, std::move(*leases));
    return;
  }
  if (plan.tls_inspector) {
    // The connection counts against its state while inspected: a reload in the meantime
    // keeps that state (its TLS contexts, its chains) until the connection is served.
    const uint64_t id = next_inspection_++;
    State* s = &state;
    state.connections++;
    auto& inspecting =
        inspecting_.emplace(id, Inspecting{std::move(*leases), nullptr}).first->second;
    inspecting.inspector = std::make_unique<net::tls::TlsInspector>(
        *loop_, fd, *plan.tls_inspector,
        [this, s, id, listener_index, fd, peer](net::tls::TlsInspector::Transport transport) {
          auto it = inspecting_.find(id);
          ConnectionLeases held = std::move(it->second.leases);
          loop_->defer_delete(std::move(it->second.inspector));
          inspecting_.erase(it);
          if (transport != net::tls::TlsInspector::Transport::Closed) {
            if (draining_) {
              close(fd);
            } else {
              accept_http(*s, listener_index, fd, peer, std::move(held),
                          transport == net::tls::TlsInspector::Transport::Tls);
            }
          }
          connection_closed(s);  // the inspection's count
        });
    return;
  }
  accept_http(state, listener_index, fd, peer, std::move(*leases), plan.tls != nullptr);
}

void Worker::accept_http(State& state, size_t listener_index, int fd, const net::Address& peer,
                         ConnectionLeases leases, bool use_tls) {
  const ListenerPlan& plan = state.generation->listeners[listener_index];
  std::unique_ptr<net::tls::TlsSocket> tls;
  if (use_tls) {
    tls = plan.tls->new_socket(fd);
    if (!tls) {  // OpenSSL out of memory: never serve a TLS listener in plaintext
      close(fd);
      return;
    }
  }
  auto local = net::local_address_of(fd);
  State* s = &state;
  auto hcm = std::make_unique<proxy::HttpConnectionManager>(
      *state.setups[listener_index], fd, peer, local,
      [this, s](proxy::HttpConnectionManager* closed) {
        loop_->defer([this, s, closed] {
          if (connections_.erase(closed)) connection_closed(s);
        });
      },
      std::move(tls));
  auto* raw = hcm.get();
  connections_.emplace(raw, OpenConnection{std::move(leases), std::move(hcm), s});
  state.connections++;
  count_open_connections();
}

Status Worker::set_up_tcp_proxy(State& state, size_t listener_index) {
  const ListenerPlan& plan = state.generation->listeners[listener_index];
  const config::ListenerConfig& listener = *plan.config;
  auto pool = state.pools.find(listener.tcp_proxy->cluster);
  if (pool == state.pools.end()) {
    return Error{"tcp_proxy: unknown cluster " + listener.tcp_proxy->cluster};
  }
  auto setup = std::unique_ptr<extensions::tcp_proxy::TcpProxySetup>(
      new extensions::tcp_proxy::TcpProxySetup{*listener.tcp_proxy,
                                               *pool->second,
                                               *plan.tcp_stats,
                                               *loop_,
                                               listener.http.per_connection_buffer_limit_bytes,
                                               {},
                                               nullptr});
  if (plan.access_logs) setup->access_log = plan.access_logs->create_worker_logger(*loop_);
  for (const auto& definition : plan.network_filters) {
    auto factory = definition->create_worker_factory(*state.context);
    if (!factory) return Error{factory.error()};
    setup->filter_factories.push_back(std::move(*factory));
  }
  state.tcp_setups[listener_index] = std::move(setup);
  return Ok{};
}

void Worker::accept_tcp_proxy(State& state, size_t listener_index, int fd, const net::Address& peer,
                              ConnectionLeases leases) {
  auto local = net::local_address_of(fd);
  State* s = &state;
  auto session = std::make_unique<extensions::tcp_proxy::TcpProxySession>(
      *state.tcp_setups[listener_index], fd, peer, local,
      [this, s](extensions::tcp_proxy::TcpProxySession* closed) {
        loop_->defer([this, s, closed] {
          if (tcp_connections_.erase(closed)) connection_closed(s);
        });
      });
  auto* raw = session.get();
  tcp_connections_.emplace(raw, OpenTcpConnection{std::move(leases), std::move(session), s});
  state.connections++;
  count_open_connections();
}

void Worker::drain() {
  loop_->post([this] {
    draining_ = true;
    current_->draining = true;
    for (auto& state : retiring_) state->draining = true;
    for (auto& acceptor : current_->acceptors) acceptor->stop();
    std::vector<proxy::HttpConnectionManager*> all;
    for (auto& [raw, _] : connections_) all.push_back(raw);
    for (auto* c : all) c->drain();
  });
}

void Worker::stop() {
  if (loop_) loop_->stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace weir::server
