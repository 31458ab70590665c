#pragma once
// A worker thread: its own event loop, upstream pools and plugin VMs, serving every
// listener from sockets shared with the other workers.
#include <atomic>
#include <chrono>
#include <functional>
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

struct ConfigGeneration;

class Worker {
 public:
  // `global_limit`: the overload manager's limit on downstream connections, shared by
  // every worker (null when there is none). `drain_time`: how long connections of a
  // replaced configuration may stay open after a reload.
  Worker(unsigned index, ConfigGeneration& generation, stats::StatsStore& stats,
         net::ConnectionLimit* global_limit, std::chrono::milliseconds drain_time);
  ~Worker();

  // Starts the thread and waits until it serves (or failed to set up its plugins).
  Status start();
  // A reload, in two steps so that nothing changes unless every worker could build the
  // new state. Each call returns once the worker did it on its own thread.
  // prepare: builds the worker's pools, filter chains and plugin VMs for `next` beside the
  // serving ones; nothing serves from them yet.
  Status prepare(ConfigGeneration& next);
  // commit: new connections get the prepared state; the replaced one stops accepting, its
  // connections close after their current response (or after `drain_time`), and it is
  // destroyed (plugins' proxy_on_done / proxy_on_delete) after its last connection.
  void commit();
  // abort: drops the prepared state (another worker failed to prepare).
  void abort();
  // Thread-safe: stop accepting, close idle connections, finish the others.
  void drain();
  // Thread-safe: stop the loop (after drain, or at once).
  void stop();
  void join();
  size_t open_connections() const { return open_connections_.load(); }

 private:
  struct State;
  void run(std::promise<Status>& ready);
  // On the worker's thread: the state for `generation`, or why it cannot be built.
  Result<std::unique_ptr<State>> build_state(ConfigGeneration& generation);
  void start_accepting(State& state);
  void attach_plugins_to(State& state);
  void retire(std::unique_ptr<State> state);
  void destroy_when_unused(State* state);
  void destroy_later(std::unique_ptr<State> state);  // from the loop's callbacks
  void destroy_now(std::unique_ptr<State>& state);   // after the loop stopped
  // Runs `fn` on the worker's thread and waits for it.
  void run_on_worker(std::function<void()> fn);
  void on_accept(State& state, size_t listener_index, int fd, const net::Address& peer);
  void accept_http(State& state, size_t listener_index, int fd, const net::Address& peer,
                   ConnectionLeases leases, bool tls);
  Status set_up_tcp_proxy(State& state, size_t listener_index);
  void accept_tcp_proxy(State& state, size_t listener_index, int fd, const net::Address& peer,
                        ConnectionLeases leases);
  void count_open_connections() {
    open_connections_ = connections_.size() + tcp_connections_.size();
  }
  void connection_closed(State* state);

  // An open connection with its shares of the connection limits, released after it, and
  // the state (configuration) it was accepted with.
  struct OpenConnection {
    ConnectionLeases leases;
    std::unique_ptr<proxy::HttpConnectionManager> manager;
    State* state;
  };

  unsigned index_;
  ConfigGeneration* first_generation_;
  stats::StatsStore& stats_;
  net::ConnectionLimit* global_limit_;
  std::chrono::milliseconds drain_time_;
  std::thread thread_;
  std::unique_ptr<event::EventLoop> loop_;
  bool draining_ = false;
  bool stopping_ = false;
  std::atomic<size_t> open_connections_{0};
  uint64_t states_built_ = 0;
  std::unique_ptr<State> current_;   // new connections use it
  std::unique_ptr<State> prepared_;  // built by prepare(), waiting for commit()
  // Replaced by a reload, still serving connections accepted before it.
  std::vector<std::unique_ptr<State>> retiring_;
  std::unordered_map<proxy::HttpConnectionManager*, OpenConnection> connections_;
  // Connections whose transport (TLS or plaintext) the tls_inspector is still telling.
  struct Inspecting {
    ConnectionLeases leases;
    std::unique_ptr<net::tls::TlsInspector> inspector;
  };
  std::unordered_map<uint64_t, Inspecting> inspecting_;
  uint64_t next_inspection_ = 0;
  struct OpenTcpConnection {
    ConnectionLeases leases;
    std::unique_ptr<extensions::tcp_proxy::TcpProxySession> session;
    State* state;
  };
  std::unordered_map<extensions::tcp_proxy::TcpProxySession*, OpenTcpConnection> tcp_connections_;
};

}  // namespace weir::server
