#include "extensions/common/wasm/remote_code_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "extensions/common/wasm/blocking_http_client.h"
#include "extensions/common/wasm/oci_registry.h"
#include "extensions/common/wasm/oci_wasm_image.h"
#include "extensions/common/wasm/remote_code_cache.h"
#include "net/tls/tls_context.h"
#include "net/tls/tls_stats.h"
#include "proxy/tls_config.h"

namespace weir::extensions::wasm {

namespace {

// Envoy's names (scope "wasm."), counted once per load.
struct RemoteLoadStats {
  stats::Counter* cache_hits = nullptr;
  stats::Counter* cache_misses = nullptr;
  stats::Counter* fetch_successes = nullptr;
  stats::Counter* fetch_failures = nullptr;
  explicit RemoteLoadStats(stats::StatsStore* store) {
    if (!store) return;
    cache_hits = &store->counter("wasm.remote_load_cache_hits");
    cache_misses = &store->counter("wasm.remote_load_cache_misses");
    fetch_successes = &store->counter("wasm.remote_load_fetch_successes");
    fetch_failures = &store->counter("wasm.remote_load_fetch_failures");
  }
  static void inc(stats::Counter* c) {
    if (c) c->inc();
  }
};

Result<HttpRoute> route_through(const config::RemoteCodeConfig& remote, stats::StatsStore* stats) {
  HttpRoute route;
  if (!remote.cluster) return route;  // oci:// without a cluster: the registry's own host
  route.use_cluster = true;
  route.address = remote.cluster->endpoints.front().address;  // (attempts take turns)
  route.port = remote.cluster->endpoints.front().port;
  if (remote.uri.starts_with("https://") && !remote.cluster->tls) {
    // As in Envoy, the cluster's transport_socket decides, not the scheme.
    spdlog::warn("code.remote {}: cluster '{}' has no TLS transport_socket: fetched in plaintext",
                 remote.uri, remote.cluster->name);
  }
  if (remote.cluster->tls) {
    static stats::StatsStore scratch;  // --mode validate has no store
    stats::StatsStore& store = stats ? *stats : scratch;
    auto context = net::tls::ClientContext::create(
        proxy::client_tls_options(*remote.cluster->tls),
        net::tls::TlsStats::create(store, "cluster." + remote.cluster->name + "."),
        "cluster '" + remote.cluster->name + "'");
    if (!context.ok()) return Error{context.error()};
    route.cluster_tls = context.value();
  }
  return route;
}

std::chrono::milliseconds back_off(const config::RemoteCodeConfig& remote, uint32_t attempt) {
  auto interval = remote.base_interval;
  for (uint32_t i = 1; i < attempt && interval < remote.max_interval; ++i) interval *= 2;
  return std::min(interval, remote.max_interval);
}

// One attempt at an http(s) URI.
Result<std::string> fetch_http_once(const config::RemoteCodeConfig& remote,
                                    const HttpRoute& route) {
  auto url = parse_http_url(remote.uri);
  if (!url.ok()) return Error{url.error()};
  HttpRequest request;
  request.url = url.value();
  auto response = http_exchange(route, request, remote.timeout, kMaxLayerBytes);
  if (!response.ok()) return Error{response.error()};
  if (response.value().status != 200) {
    std::string where = response.value().header("location");
    return Error{"the server answered " + std::to_string(response.value().status) +
                 (where.empty() ? "" : " (redirects are not followed: " + where + ")")};
  }
  return std::move(response.value().body);
}

struct Attempt {
  Result<std::string> bytes;
  bool retry;  // worth another attempt (the content itself was not wrong)
};

Attempt fetch_oci_once(const config::RemoteCodeConfig& remote, const HttpRoute& route) {
  auto ref = parse_oci_reference(remote.uri);
  if (!ref.ok()) return {Error{ref.error()}, false};
  auto credentials = load_registry_credentials(remote.docker_config_path, ref.value().registry);
  if (!credentials.ok()) return {Error{credentials.error()}, false};
  OciRegistry registry(ref.value(), route, false, std::move(credentials.value()), remote.timeout);
  auto pulled = pull_wasm_plugin(registry);
  if (!pulled.ok()) return {Error{pulled.error()}, registry.last_failure_unreachable()};
  spdlog::info("pulled {} ({}, manifest {})", ref.value().to_string(), pulled.value().format,
               pulled.value().manifest_digest);
  return {std::move(pulled.value().wasm), false};
}

}  // namespace

namespace {

Result<std::string> fetch(const config::RemoteCodeConfig& remote, stats::StatsStore* stats) {
  RemoteLoadStats counters(stats);
  const bool oci = remote.uri.starts_with("oci://");
  if (!remote.sha256.empty()) {
    if (auto cached = RemoteCodeCache::get(remote.sha256)) {
      RemoteLoadStats::inc(counters.cache_hits);
      spdlog::debug("code.remote {}: from the cache ({})", remote.uri, remote.sha256);
      return std::move(*cached);
    }
  }
  RemoteLoadStats::inc(counters.cache_misses);
  auto route = route_through(remote, stats);
  if (!route.ok()) return Error{remote.uri + ": " + route.error()};

  std::string last_error;
  for (uint32_t attempt = 0; attempt <= remote.num_retries; ++attempt) {
    if (attempt > 0) {
      const auto wait = back_off(remote, attempt);
      spdlog::warn("code.remote {}: {}; retrying in {} ms ({} of {})", remote.uri, last_error,
                   wait.count(), attempt, remote.num_retries);
      std::this_thread::sleep_for(wait);
    }
    // Each attempt goes to the cluster's next endpoint: one that is down costs a retry,
    // not the load.
    HttpRoute to = route.value();
    if (to.use_cluster) {
      const auto& endpoint = remote.cluster->endpoints[attempt % remote.cluster->endpoints.size()];
      to.address = endpoint.address;
      to.port = endpoint.port;
    }
    Attempt result = oci ? fetch_oci_once(remote, to) : Attempt{fetch_http_once(remote, to), true};
    if (!result.bytes.ok()) {
      last_error = result.bytes.error();
      if (!result.retry) break;
      continue;
    }
    std::string& bytes = result.bytes.value();
    const std::string got = sha256_hex(bytes);
    if (!remote.sha256.empty() && got != remote.sha256) {
      RemoteLoadStats::inc(counters.fetch_failures);
      return Error{remote.uri + ": sha256 mismatch: expected " + remote.sha256 + ", got " + got};
    }
    RemoteLoadStats::inc(counters.fetch_successes);
    RemoteCodeCache::put(got, bytes);
    if (remote.nack_on_code_cache_miss) {
      // Envoy rejects a config whose code was not cached and fills the cache in the
      // background: the next load (a reload) finds it there.
      return Error{remote.uri +
                   ": not in the code cache and nack_on_code_cache_miss is set "
                   "(fetched into the cache for the next load)"};
    }
    return std::move(bytes);
  }
  RemoteLoadStats::inc(counters.fetch_failures);
  return Error{remote.uri + ": " + last_error};
}

}  // namespace

Result<std::string> fetch_remote_code(const config::RemoteCodeConfig& remote,
                                      stats::StatsStore* stats) {
  auto code = fetch(remote, stats);
  if (stats) stats->gauge("wasm.remote_load_cache_entries").set(RemoteCodeCache::entries());
  return code;
}

}  // namespace weir::extensions::wasm
