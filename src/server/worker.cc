#include "server/worker.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace weir::server {

Worker::Worker(unsigned index, const std::vector<ListenerPlan>& listeners,
               const proxy::ClusterManager& clusters, stats::StatsStore& stats,
               const WasmServices& wasm_services, net::ConnectionLimit* global_limit)
    : index_(index),
      listeners_(listeners),
      clusters_(clusters),
      stats_(stats),
      wasm_services_(wasm_services),
      global_limit_(global_limit) {}

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

void Worker::run(std::promise<Status>& ready) {
  loop_ = std::make_unique<event::EventLoop>();
  for (const auto& [name, cluster] : clusters_.clusters()) {
    pools_.emplace(name, std::make_unique<proxy::UpstreamPool>(*loop_, cluster));
  }
  auto find_pool = [this](std::string_view cluster) -> proxy::UpstreamPool* {
    auto it = pools_.find(cluster);
    return it == pools_.end() ? nullptr : it->second.get();
  };
  http_client_ = std::make_unique<proxy::AsyncHttpClient>(*loop_, find_pool);
  proxy::WorkerContext context{*loop_, stats_, index_, http_client_.get()};
  // Bootstrap services first: filters may read what they share from their first request.
  for (const auto& service : wasm_services_) {
    if (!service->runs_on(index_)) continue;
    auto running = service->start_on_worker(context);
    if (!running) {
      running_services_.clear();
      ready.set_value(Error{"worker " + std::to_string(index_) + ": " + running.error()});
      return;
    }
    running_services_.push_back(std::move(*running));
  }
  tcp_setups_.resize(listeners_.size());
  for (size_t i = 0; i < listeners_.size(); ++i) {
    const ListenerPlan& plan = listeners_[i];
    if (plan.config->tcp_proxy) {
      if (Status set_up = set_up_tcp_proxy(i, context); !set_up) {
        tcp_setups_.clear();
        setups_.clear();
        running_services_.clear();
        ready.set_value(Error{"worker " + std::to_string(index_) + ": " + set_up.error()});
        return;
      }
      setups_.push_back(nullptr);
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
                                          &draining_});
    if (plan.access_logs) setup->access_log = plan.access_logs->create_worker_logger(*loop_);
    setup->tls = plan.tls.get();
    for (size_t f = 0; f < plan.filters.size(); ++f) {
      auto factory = plan.filters[f]->create_worker_factory(context);
      if (!factory) {
        setups_.clear();
        running_services_.clear();
        ready.set_value(Error{"worker " + std::to_string(index_) + ": " + factory.error()});
        return;
      }
      setup->filter_factories.push_back(std::move(*factory));
    }
    setups_.push_back(std::move(setup));
  }
  for (size_t i = 0; i < listeners_.size(); ++i) {
    const ListenerPlan& plan = listeners_[i];
    net::Acceptor::Options options{plan.config->name,
                                   plan.config->max_connections_to_accept_per_socket_event};
    acceptors_.push_back(std::make_unique<net::Acceptor>(
        *loop_, plan.fd, std::move(options),
        [this, i](int fd, const net::Address& peer) { on_accept(i, fd, peer); },
        [&plan](int) { plan.accept_stats->downstream_cx_accept_paused.inc(); }));
  }
  ready.set_value(Ok{});
  loop_->run();
  // Tear down in dependency order: connections use setups (filters, VMs) and pools.
  acceptors_.clear();
  inspecting_.clear();
  connections_.clear();
  tcp_connections_.clear();
  loop_->run_deferred();
  setups_.clear();
  tcp_setups_.clear();
  loop_->run_deferred();
  running_services_.clear();
  loop_->run_deferred();
  http_client_.reset();
  loop_->run_deferred();
  pools_.clear();
  loop_->run_deferred();
  loop_.reset();
}

void Worker::on_accept(size_t listener_index, int fd, const net::Address& peer) {
  if (draining_) {
    close(fd);
    return;
  }
  const ListenerPlan& plan = listeners_[listener_index];
  // Past a limit the connection is accepted and closed at once, as Envoy does: the
  // client sees a closed connection rather than a backlog that never drains.
  auto leases = admit_connection(plan.config->ignore_global_conn_limit ? nullptr : global_limit_,
                                 plan.connections.get(), *plan.accept_stats);
  if (!leases) {
    close(fd);
    return;
  }
  net::set_nodelay(fd);
  if (tcp_setups_[listener_index]) {
    accept_tcp_proxy(listener_index, fd, peer, std::move(*leases));
    return;
  }
  if (plan.tls_inspector) {
    const uint64_t id = next_inspection_++;
    auto& inspecting =
        inspecting_.emplace(id, Inspecting{std::move(*leases), nullptr}).first->second;
    inspecting.inspector = std::make_unique<net::tls::TlsInspector>(
        *loop_, fd, *plan.tls_inspector,
        [this, id, listener_index, fd, peer](net::tls::TlsInspector::Transport transport) {
          auto it = inspecting_.find(id);
          ConnectionLeases held = std::move(it->second.leases);
          loop_->defer_delete(std::move(it->second.inspector));
          inspecting_.erase(it);
          if (transport == net::tls::TlsInspector::Transport::Closed) return;
          if (draining_) {
            close(fd);
            return;
          }
          accept_http(listener_index, fd, peer, std::move(held),
                      transport == net::tls::TlsInspector::Transport::Tls);
        });
    return;
  }
  accept_http(listener_index, fd, peer, std::move(*leases), plan.tls != nullptr);
}

void Worker::accept_http(size_t listener_index, int fd, const net::Address& peer,
                         ConnectionLeases leases, bool use_tls) {
  const ListenerPlan& plan = listeners_[listener_index];
  std::unique_ptr<net::tls::TlsSocket> tls;
  if (use_tls) {
    tls = plan.tls->new_socket(fd);
    if (!tls) {  // OpenSSL out of memory: never serve a TLS listener in plaintext
      close(fd);
      return;
    }
  }
  auto local = net::local_address_of(fd);
  auto hcm = std::make_unique<proxy::HttpConnectionManager>(
      *setups_[listener_index], fd, peer, local,
      [this](proxy::HttpConnectionManager* closed) {
        loop_->defer([this, closed] {
          connections_.erase(closed);
          count_open_connections();
        });
      },
      std::move(tls));
  auto* raw = hcm.get();
  connections_.emplace(raw, OpenConnection{std::move(leases), std::move(hcm)});
  count_open_connections();
}

Status Worker::set_up_tcp_proxy(size_t listener_index, proxy::WorkerContext& context) {
  const ListenerPlan& plan = listeners_[listener_index];
  const config::ListenerConfig& listener = *plan.config;
  auto pool = pools_.find(listener.tcp_proxy->cluster);
  if (pool == pools_.end())
    return Error{"tcp_proxy: unknown cluster " + listener.tcp_proxy->cluster};
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
    auto factory = definition->create_worker_factory(context);
    if (!factory) return Error{factory.error()};
    setup->filter_factories.push_back(std::move(*factory));
  }
  tcp_setups_[listener_index] = std::move(setup);
  return Ok{};
}

void Worker::accept_tcp_proxy(size_t listener_index, int fd, const net::Address& peer,
                              ConnectionLeases leases) {
  auto local = net::local_address_of(fd);
  auto session = std::make_unique<extensions::tcp_proxy::TcpProxySession>(
      *tcp_setups_[listener_index], fd, peer, local,
      [this](extensions::tcp_proxy::TcpProxySession* closed) {
        loop_->defer([this, closed] {
          tcp_connections_.erase(closed);
          count_open_connections();
        });
      });
  auto* raw = session.get();
  tcp_connections_.emplace(raw, OpenTcpConnection{std::move(leases), std::move(session)});
  count_open_connections();
}

void Worker::drain() {
  loop_->post([this] {
    draining_ = true;
    for (auto& acceptor : acceptors_) acceptor->stop();
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
