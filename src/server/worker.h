#pragma once
// A worker thread: its own event loop, upstream pools and plugin VMs, serving every
// listener from sockets shared with the other workers.
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "event/event_loop.h"
#include "extensions/bootstrap/wasm/wasm_service.h"
#include "extensions/filters/network/tcp_proxy/tcp_proxy.h"
#include "net/acceptor.h"
#include "net/connection_limit.h"
#include "net/socket.h"
#include "proxy/async_http_client.h"
#include "proxy/connection_manager_setup.h"
#include "proxy/http_connection_manager.h"
#include "server/listener_plan.h"

namespace weir::server {

class Worker {
 public:
  using WasmServices = std::vector<std::shared_ptr<extensions::wasm::WasmServiceDefinition>>;
  // `global_limit`: the overload manager's limit on downstream connections, shared by
  // every worker (null when there is none).
  Worker(unsigned index, const std::vector<ListenerPlan>& listeners,
         const proxy::ClusterManager& clusters, stats::StatsStore& stats,
         const WasmServices& wasm_services, net::ConnectionLimit* global_limit);
  ~Worker();

  // Starts the thread and waits until it serves (or failed to set up its plugins).
  Status start();
  // Thread-safe: stop accepting, close idle connections, finish the others.
  void drain();
  // Thread-safe: stop the loop (after drain, or at once).
  void stop();
  void join();
  size_t open_connections() const { return open_connections_.load(); }

 private:
  void run(std::promise<Status>& ready);
  void on_accept(size_t listener_index, int fd, const net::Address& peer);
  void accept_http(size_t listener_index, int fd, const net::Address& peer, ConnectionLeases leases,
                   bool tls);
  Status set_up_tcp_proxy(size_t listener_index, proxy::WorkerContext& context);
  void accept_tcp_proxy(size_t listener_index, int fd, const net::Address& peer,
                        ConnectionLeases leases);
  void count_open_connections() {
    open_connections_ = connections_.size() + tcp_connections_.size();
  }

  // An open connection with its shares of the connection limits, released after it.
  struct OpenConnection {
    ConnectionLeases leases;
    std::unique_ptr<proxy::HttpConnectionManager> manager;
  };

  unsigned index_;
  const std::vector<ListenerPlan>& listeners_;
  const proxy::ClusterManager& clusters_;
  stats::StatsStore& stats_;
  const WasmServices& wasm_services_;
  net::ConnectionLimit* global_limit_;
  std::thread thread_;
  std::unique_ptr<event::EventLoop> loop_;
  bool draining_ = false;
  std::atomic<size_t> open_connections_{0};
  std::map<std::string, std::unique_ptr<proxy::UpstreamPool>, std::less<>> pools_;
  std::unique_ptr<proxy::AsyncHttpClient> http_client_;
  std::vector<std::unique_ptr<proxy::ConnectionManagerSetup>> setups_;
  std::vector<std::unique_ptr<extensions::wasm::RunningWasmService>> running_services_;
  std::vector<std::unique_ptr<net::Acceptor>> acceptors_;  // one per listener
  std::unordered_map<proxy::HttpConnectionManager*, OpenConnection> connections_;
  // Connections whose transport (TLS or plaintext) the tls_inspector is still telling.
  struct Inspecting {
    ConnectionLeases leases;
    std::unique_ptr<net::tls::TlsInspector> inspector;
  };
  std::unordered_map<uint64_t, Inspecting> inspecting_;
  uint64_t next_inspection_ = 0;
  // tcp_proxy listeners: per listener (null for HTTP ones) and their connections.
  std::vector<std::unique_ptr<extensions::tcp_proxy::TcpProxySetup>> tcp_setups_;
  struct OpenTcpConnection {
    ConnectionLeases leases;
    std::unique_ptr<extensions::tcp_proxy::TcpProxySession> session;
  };
  std::unordered_map<extensions::tcp_proxy::TcpProxySession*, OpenTcpConnection> tcp_connections_;
};

}  // namespace weir::server
