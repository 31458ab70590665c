#pragma once
// One loaded configuration, everything the main thread decides from it before workers use
// it: the config itself, clusters, listener plans (routes, filter definitions with their
// compiled plugins), listening sockets and bootstrap Wasm services. Start-up builds the
// first; every successful reload builds another beside it. Workers build their own state
// from it (worker.h) and count themselves in `worker_states`; the main thread destroys a
// replaced generation once that count is back to zero.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "extensions/bootstrap/wasm/wasm_service.h"
#include "proxy/cluster_manager.h"
#include "server/listener_plan.h"
#include "wasm/engine/engine.h"

namespace weir::server {

// A bound, listening socket, shared by the generations that serve it: a listener whose
// address stays the same across a reload keeps its socket (no connection is refused), one
// that goes away is closed with the last generation holding it.
struct ListenSocket {
  int fd = -1;
  std::string key;  // the resolved address ("127.0.0.1_8080"), plus the name for port 0
  ~ListenSocket();
};

struct ConfigGeneration {
  uint64_t version = 0;  // 1 at start-up, +1 per successful reload
  std::chrono::system_clock::time_point loaded_at;
  config::BootstrapConfig config;  // plans point into it: never moved after planning
  std::unique_ptr<proxy::ClusterManager> clusters;
  std::vector<ListenerPlan> listeners;
  std::vector<std::shared_ptr<ListenSocket>> sockets;  // parallel to `listeners`
  std::vector<std::shared_ptr<extensions::wasm::WasmServiceDefinition>> wasm_services;
  std::string config_dump;         // /config_dump while this generation is live
  wasm::Engine* engine = nullptr;  // what its plugins run on
  // Worker states built from this generation and not yet destroyed (on worker threads).
  std::atomic<unsigned> worker_states{0};

  ~ConfigGeneration();
  // Every code file the config names (plugins, network filters, services): watched for
  // changes beside the config file.
  std::vector<std::string> code_files() const;
};

std::vector<std::string> code_files_of(const config::BootstrapConfig& config);

}  // namespace weir::server
