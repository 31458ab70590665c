#pragma once
// The network Wasm filter (envoy.filters.network.wasm): a Proxy-Wasm plugin in front of
// tcp_proxy, seeing each connection's bytes in both directions.
//
// - proxy_on_new_connection, proxy_on_downstream_data, proxy_on_upstream_data: CONTINUE
//   passes the bytes on (as the plugin left them: DownstreamData / UpstreamData are the
//   bytes held in that direction, readable and writable); PAUSE holds them (more bytes
//   are added and the callback runs again with all of them, as in Envoy) until the
//   plugin calls proxy_continue_stream. Downstream resumes both directions (the Go SDK's
//   ContinueTcpStream sends it for either), Upstream the upstream's bytes only.
// - proxy_close_stream closes the connection, both sides.
// - proxy_on_downstream_connection_close / proxy_on_upstream_connection_close with the
//   peer type (REMOTE: that peer closed; LOCAL: weir did), then on_done, on_log,
//   on_delete when the connection is over.
// - A plugin that fails (trap, deadline, memory) in a callback: the connection is closed
//   (fail-closed, the default, and fail-reload, whose new VM serves later connections);
//   fail-open lets the connection go on without the plugin.
#include <memory>

#include "common/result.h"
#include "config/config.h"
#include "extensions/filters/network/network_filter.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

namespace weir::extensions::wasm {

// On the main thread at start-up: reads, compiles and trial-starts the plugin (as the
// HTTP filter does). Workers then call create_worker_factory() on their thread.
Result<std::shared_ptr<network::NetworkFilterDefinition>> create_network_wasm_filter_definition(
    const config::WasmPluginConfig& config, ::weir::wasm::Engine& engine, stats::StatsStore& stats);

}  // namespace weir::extensions::wasm
