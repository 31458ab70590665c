#pragma once
// The HTTP wasm filter (envoy.filters.http.wasm): bridges proxy::HttpFilter to the
// Proxy-Wasm host layer (src/proxy_wasm).
//
// How it maps onto the connection manager (src/proxy/active_stream.cc):
// - headers PAUSE (1) -> StopAllIteration, as Envoy's Proxy-Wasm host: the manager holds
//   the body meanwhile and, after continue_*(), delivers it to this filter's on_*_body
//   (the plugin sees it then). With allow_on_headers_stop_iteration (default for Higress
//   0.2.100 modules) -> StopIteration: the body reaches the plugin, and Continue from its
//   body callback resumes headers then body. Headers 3/4+ -> StopAllIteration.
// - body 1/2 (buffer) -> StopIteration with the bytes left in `chunk`: the manager holds
//   them and calls again with everything held so far (accumulated size), and enforces
//   the listener's per_connection_buffer_limit_bytes (413 / 500).
// - body >= 3 -> StopIteration; later chunks are held without calling the plugin until
//   it continues.
// - continue_stream() from inside a callback turns that callback's PAUSE into CONTINUE;
//   from a later event (an http call answer) it calls continue_*() only if this filter is
//   the one stopped, once the VM call has returned (Vm::run_after_call, as Envoy).
// - send_local_response() -> send_local_reply(), which takes effect after the callback
//   (from a later event: after the VM call).
// - close_stream() -> reset_stream(), likewise.
#include <memory>

#include "common/result.h"
#include "config/config.h"
#include "proxy/http_filter.h"
#include "stats/stats_store.h"
#include "wasm/engine/engine.h"

namespace weir::extensions::wasm {

// Called on the main thread at start-up: reads and compiles the code (sharing compiled
// modules between filters with the same code), detects the ABI and does a full trial
// start (instantiate, _initialize/_start, on_vm_start, on_configure). Errors name the
// plugin and the failing step. Workers then call create_worker_factory() on their thread.
// `time_us`, if given, gets each request's time inside the plugin's stream callbacks.
Result<std::shared_ptr<proxy::HttpFilterDefinition>> create_wasm_filter_definition(
    const config::WasmPluginConfig& config, ::weir::wasm::Engine& engine, stats::StatsStore& stats,
    stats::Histogram* time_us = nullptr);

}  // namespace weir::extensions::wasm
