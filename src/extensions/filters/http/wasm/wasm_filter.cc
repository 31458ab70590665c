#include "extensions/filters/http/wasm/wasm_filter.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "common/recycled.h"
#include "config/config.h"
#include "extensions/common/wasm/plugin_loader.h"
#include "extensions/common/wasm/plugin_stream.h"
#include "extensions/common/wasm/stream_properties.h"
#include "extensions/common/wasm/worker_services.h"
#include "extensions/filters/http/common/filter_timing.h"
#include "proxy_wasm/properties.h"
#include "proxy_wasm/vm.h"

namespace weir::extensions::wasm {

namespace pw = ::weir::proxy_wasm;
using proxy::FilterStatus;

namespace {

constexpr std::string_view kFailStreamDetails = "wasm_fail_stream";

// One stream through one plugin: the proxy::HttpFilter, and the host layer's StreamHost.
// Recycled: made and freed for every request through the plugin.
class WasmFilter final : public proxy::HttpFilter,
                         public pw::StreamHost,
                         private PluginStream,
                         public Recycled<WasmFilter> {
 public:
  WasmFilter(std::shared_ptr<pw::WorkerPlugin> plugin, proxy::HttpFilterCallbacks& cb,
             stats::Histogram* time_us, bool allow_headers_stop_iteration)
      : PluginStream(std::move(plugin)),
        cb_(cb),
        allow_headers_stop_iteration_(allow_headers_stop_iteration),
        timer_(time_us) {}

  ~WasmFilter() override { finish(); }

  // ---- proxy::HttpFilter
  FilterStatus on_request_headers(http::HeaderMap& headers, bool end_stream) override {
    return timer_.time([&] { return request_headers(headers, end_stream); });
  }
  FilterStatus on_request_body(std::string& chunk, bool end_stream) override {
    return timer_.time([&] { return body(req_, chunk, end_stream); });
  }
  FilterStatus on_request_trailers(http::HeaderMap& trailers) override {
    return timer_.time([&] { return request_trailers(trailers); });
  }
  FilterStatus on_response_headers(http::HeaderMap& headers, bool end_stream) override {
    return timer_.time([&] { return response_headers(headers, end_stream); });
  }
  FilterStatus on_response_body(std::string& chunk, bool end_stream) override {
    return timer_.time([&] { return body(resp_, chunk, end_stream); });
  }
  FilterStatus on_response_trailers(http::HeaderMap& trailers) override {
    return timer_.time([&] { return response_trailers(trailers); });
  }
  void on_stream_complete() override {
    timer_.time([&] { finish(); });
    timer_.record();
  }

 private:
  FilterStatus request_headers(http::HeaderMap& headers, bool end_stream) {
    if (!ensure_context()) return passive(req_);
    return run_headers(req_, [&] {
      return ctx_->on_request_headers(static_cast<uint32_t>(headers.size()), end_stream);
    });
  }

  FilterStatus request_trailers(http::HeaderMap& trailers) {
    if (!ensure_context()) return passive(req_);
    if (req_.stopped) return FilterStatus::StopIteration;
    return run(req_,
               [&] { return ctx_->on_request_trailers(static_cast<uint32_t>(trailers.size())); });
  }

  FilterStatus response_headers(http::HeaderMap& headers, bool end_stream) {
    if (!ensure_context()) return passive(resp_);
    return run_headers(resp_, [&] {
      return ctx_->on_response_headers(static_cast<uint32_t>(headers.size()), end_stream);
    });
  }

  FilterStatus response_trailers(http::HeaderMap& trailers) {
    if (!ensure_context()) return passive(resp_);
    if (resp_.stopped) return FilterStatus::StopIteration;
    return run(resp_,
               [&] { return ctx_->on_response_trailers(static_cast<uint32_t>(trailers.size())); });
  }

 public:
  // ---- pw::StreamHost
  http::HeaderMap* header_map(pw::MapType type) override {
    switch (type) {
      case pw::MapType::RequestHeaders:
        return cb_.request_headers();
      case pw::MapType::RequestTrailers:
        return cb_.request_trailers();
      case pw::MapType::ResponseHeaders:
        return cb_.response_headers();
      case pw::MapType::ResponseTrailers:
        return cb_.response_trailers();
      default:
        return nullptr;
    }
  }

  std::string* body_buffer(pw::BufferType type) override {
    if (type != pw::BufferType::HttpRequestBody && type != pw::BufferType::HttpResponseBody) {
      return nullptr;  // a network stream's data: none on an HTTP stream
    }
    Direction& d = type == pw::BufferType::HttpRequestBody ? req_ : resp_;
    return d.body;
  }

  void send_local_response(uint32_t status, std::string_view body, http::HeaderMap headers,
                           std::string_view details, uint32_t /*grpc_status*/) override {
    if (in_own_callback()) {
      cb_.send_local_reply(status, body, headers, details);  // the manager defers it
      return;
    }
    after_vm_call(
        [this, status, body = std::string(body), headers = std::move(headers),
         details = std::string(details)] { cb_.send_local_reply(status, body, headers, details); });
  }

  pw::WasmResult continue_stream(pw::StreamType type) override {
    if (!is_http(type)) return pw::WasmResult::Unimplemented;  // a network stream's type
    Direction& d = type == pw::StreamType::Request ? req_ : resp_;
    if (d.in_callback) {
      // Resumed before the callback even returned: its PAUSE becomes CONTINUE.
      d.continue_requested = true;
      return pw::WasmResult::Ok;
    }
    if (!d.stopped) return pw::WasmResult::Ok;
    after_vm_call([this, type] { resume(type); });
    return pw::WasmResult::Ok;
  }

  pw::WasmResult close_stream(pw::StreamType type) override {
    if (!is_http(type)) return pw::WasmResult::Unimplemented;
    // Envoy resets the stream for either direction.
    if (in_own_callback()) {
      cb_.reset_stream();  // the manager defers it
    } else {
      after_vm_call([this] { cb_.reset_stream(); });
    }
    return pw::WasmResult::Ok;
  }

  void clear_route_cache() override { cb_.clear_route_cache(); }

  bool get_stream_property(std::string_view path, std::string& out) override {
    const proxy::StreamInfo& si = cb_.stream_info();
    PropertyAnswer answer(path, out);
    if (answer.connection_facts(si)) return true;
    auto is = [&](std::string_view dotted) { return answer.is(dotted); };
    auto str = [&](std::string_view v) { return answer.str(v); };
    auto num = [&](int64_t v) { return answer.num(v); };
    if (is("request.protocol")) return str(si.protocol);
    if (is("request.time")) {
      return num(
          std::chrono::duration_cast<std::chrono::nanoseconds>(si.start_time.time_since_epoch())
              .count());
    }
    if (is("request.duration")) {
      return num(std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now() - si.start_time)
                     .count());
    }
    if (is("request.size") || is("request.total_size")) {
      return num(static_cast<int64_t>(si.bytes_received));
    }
    if (is("response.code")) {
      if (si.response_code == 0) return false;
      return num(si.response_code);
    }
    if (is("response.code_details")) {
      return si.response_code_details.empty() ? false : str(si.response_code_details);
    }
    if (is("response.size")) return num(static_cast<int64_t>(si.bytes_sent));
    if (is("response.total_size")) {
      return num(static_cast<int64_t>(si.bytes_sent + si.header_bytes_sent));
    }
    if (is("response.flags")) return num(0);
    // connection.* TLS facts, Envoy's names; a plaintext connection has none but mtls.
    const net::tls::TlsInfo* tls = si.downstream_tls;
    if (is("connection.mtls")) return answer.boolean(tls && tls->peer_certificate_validated);
    if (is("connection.requested_server_name")) {
      return tls ? str(tls->requested_server_name) : str("");
    }
    if (is("connection.tls_version")) return tls ? str(tls->version) : false;
    if (is("connection.subject_peer_certificate")) {
      return tls && tls->peer_certificate_presented ? str(tls->subject_peer_certificate) : false;
    }
    if (is("connection.uri_san_peer_certificate")) {
      if (!tls || tls->uri_san_peer_certificate.empty()) return false;
      return str(tls->uri_san_peer_certificate.front());
    }
    if (is("connection.dns_san_peer_certificate")) {
      if (!tls || tls->dns_san_peer_certificate.empty()) return false;
      return str(tls->dns_san_peer_certificate.front());
    }
    if (is("upstream.tls_version")) {
      return si.upstream_tls_version.empty() ? false : str(si.upstream_tls_version);
    }
    // Route properties are computed here, when a plugin asks: the route is matched on
    // demand (Envoy has it from the request headers on), never per request for nothing.
    if (is("cluster_name")) {
      if (!si.cluster_name.empty()) return str(si.cluster_name);
      const config::Route* route = cb_.route();
      return route && route->route ? str(route->route->cluster) : false;
    }
    if (is("route_name")) {
      const config::Route* route = cb_.route();
      return str(route ? route->name : si.route_name);
    }
    std::string_view rest;
    auto top = [&](std::string_view name) {
      if (!path.starts_with(name)) return false;
      if (path.size() == name.size()) {
        rest = {};
        return true;
      }
      if (path[name.size()] != '\0') return false;
      rest = path.substr(name.size() + 1);
      return true;
    };
    if (top("route_metadata")) {
      const config::Route* route = cb_.route();
      if (!route || !route->route) return false;
      return common::metadata_property(route->metadata, rest, out);
    }
    if (top("cluster_metadata")) {
      const config::Route* route = cb_.route();
      std::string_view name = !si.cluster_name.empty() ? std::string_view(si.cluster_name)
                              : route && route->route  ? std::string_view(route->route->cluster)
                                                       : std::string_view();
      const config::ClusterConfig* cluster = name.empty() ? nullptr : cb_.cluster_config(name);
      if (!cluster) return false;
      return common::metadata_property(cluster->metadata, rest, out);
    }
    if (top("metadata")) {  // the stream's dynamic metadata: weir sets none
      static const common::Metadata kNone;
      return common::metadata_property(kNone, rest, out);
    }
    if (is("listener_direction")) return num(0);  // UNSPECIFIED
    return false;
  }

 private:
  struct Direction {
    bool request = true;
    bool in_callback = false;
    bool continue_requested = false;
    bool in_headers = false;      // the callback being applied is the headers one
    bool stopped = false;         // this filter holds the direction (paused by the plugin)
    bool no_buffer = false;       // body >= 3: hold later chunks without calling the plugin
    std::string* body = nullptr;  // during a body callback
  };

  static bool is_http(pw::StreamType type) {
    return type == pw::StreamType::Request || type == pw::StreamType::Response;
  }

  bool in_own_callback() const { return req_.in_callback || resp_.in_callback; }

  // The VM died in another context's callback (the root context's http call answer,
  // say): if the plugin holds this stream, apply the failure policy once the VM call has
  // unwound, instead of leaving the stream to its idle timeout.
  void on_vm_failed() override {
    if (in_own_callback() || mode_ != Mode::Active) return;  // apply() handles our own
    after_vm_call([this] {
      if (mode_ != Mode::Active || (!req_.stopped && !resp_.stopped)) return;
      if (plugin_->failure_policy() == pw::FailurePolicy::FailOpen) {
        mode_ = Mode::Bypass;
        resume(pw::StreamType::Request);
        resume(pw::StreamType::Response);
      } else {
        fail_closed();  // the stream resets instead if its response already went out
      }
    });
  }

  // Resumes a direction this plugin paused (continue_stream from a later event).
  void resume(pw::StreamType type) {
    Direction& d = type == pw::StreamType::Request ? req_ : resp_;
    if (!d.stopped) return;
    d.stopped = false;
    d.no_buffer = false;
    if (type == pw::StreamType::Request) {
      cb_.continue_request();
    } else {
      cb_.continue_response();
    }
  }

  // The context is created on the first callback (also for a local reply that reaches
  // the response path first).
  bool ensure_context() { return PluginStream::ensure_context(this); }

  // The result of a callback we do not run: bypassed streams continue; a failed stream
  // stays stopped on the request side (its 503 is on the way) and lets the response
  // (that 503) through.
  FilterStatus passive(const Direction& d) const {
    if (mode_ == Mode::Failed && d.request) return FilterStatus::StopIteration;
    return FilterStatus::Continue;
  }

  void fail_closed() override {
    mode_ = Mode::Failed;
    cb_.send_local_reply(503, "", http::HeaderMap{}, kFailStreamDetails);
  }

  template <typename F>
  FilterStatus run(Direction& d, F&& callback) {
    d.in_callback = true;
    d.continue_requested = false;
    pw::Action a = callback();
    d.in_callback = false;
    return apply(d, a);
  }

  template <typename F>
  FilterStatus run_headers(Direction& d, F&& callback) {
    d.in_headers = true;
    FilterStatus s = run(d, std::forward<F>(callback));
    d.in_headers = false;
    return s;
  }

  FilterStatus apply(Direction& d, pw::Action a) {
    switch (a) {
      case pw::Action::Continue:
        return FilterStatus::Continue;
      case pw::Action::LocalReply:
        return FilterStatus::StopIteration;
      case pw::Action::Failed:
        on_failure();
        return mode_ == Mode::Bypass ? FilterStatus::Continue : passive(d);
      case pw::Action::Buffer:
        if (d.continue_requested) return FilterStatus::Continue;
        return FilterStatus::StopIteration;  // the manager holds and calls again
      case pw::Action::StopNoBuffer:
        if (d.continue_requested) return FilterStatus::Continue;
        d.stopped = true;
        d.no_buffer = true;
        return FilterStatus::StopIteration;
      case pw::Action::Pause:
        if (d.continue_requested) return FilterStatus::Continue;
        d.stopped = true;
        // From headers, Envoy runs StopIteration as stop-all (headers and body, no body
        // callback until the plugin resumes) unless allow_on_headers_stop_iteration: a
        // plugin pausing for an auth call must not be resumed by its default body callback.
        if (d.in_headers && !allow_headers_stop_iteration_) return FilterStatus::StopAllIteration;
        return FilterStatus::StopIteration;
      case pw::Action::StopAll:
        if (d.continue_requested) return FilterStatus::Continue;
        d.stopped = true;
        return FilterStatus::StopAllIteration;
    }
    return FilterStatus::Continue;
  }

  FilterStatus body(Direction& d, std::string& chunk, bool end_stream) {
    if (!ensure_context()) return passive(d);
    if (d.stopped && d.no_buffer) return FilterStatus::StopIteration;  // held, plugin not called
    d.body = &chunk;
    FilterStatus s = run(d, [&] {
      return d.request ? ctx_->on_request_body(static_cast<uint32_t>(chunk.size()), end_stream)
                       : ctx_->on_response_body(static_cast<uint32_t>(chunk.size()), end_stream);
    });
    // A buffering callback at end of stream waits for continue_stream(). Continue from the
    // body of a direction the headers callback paused resumes it (Envoy's StopIteration).
    if (s == FilterStatus::StopIteration && end_stream && mode_ == Mode::Active) d.stopped = true;
    if (s == FilterStatus::Continue) {
      d.stopped = false;
      d.no_buffer = false;
    }
    d.body = nullptr;
    return s;
  }

  proxy::HttpFilterCallbacks& cb_;
  const bool allow_headers_stop_iteration_;
  Direction req_{true};
  Direction resp_{false};
  FilterTimer timer_;
};

class WasmFilterFactory final : public proxy::HttpFilterFactory {
 public:
  WasmFilterFactory(std::shared_ptr<pw::WorkerPlugin> plugin, stats::Histogram* time_us,
                    bool allow_headers_stop_iteration)
      : plugin_(std::move(plugin)),
        time_us_(time_us),
        allow_headers_stop_iteration_(allow_headers_stop_iteration) {}
  std::unique_ptr<proxy::HttpFilter> create_filter(proxy::HttpFilterCallbacks& callbacks) override {
    return std::make_unique<WasmFilter>(plugin_, callbacks, time_us_,
                                        allow_headers_stop_iteration_);
  }

 private:
  std::shared_ptr<pw::WorkerPlugin> plugin_;
  stats::Histogram* time_us_;
  bool allow_headers_stop_iteration_;
};

class WasmFilterDefinition final : public proxy::HttpFilterDefinition {
 public:
  WasmFilterDefinition(std::shared_ptr<const pw::PluginSpec> spec,
                       std::shared_ptr<const pw::PluginModule> module, ::weir::wasm::Engine& engine,
                       stats::Histogram* time_us, bool allow_headers_stop_iteration)
      : spec_(std::move(spec)),
        module_(std::move(module)),
        engine_(engine),
        time_us_(time_us),
        allow_headers_stop_iteration_(allow_headers_stop_iteration) {
    if (time_us_) (void)filter_clock_ticks_per_us();  // calibrated now, not on a request
  }

  Result<std::unique_ptr<proxy::HttpFilterFactory>> create_worker_factory(
      proxy::WorkerContext& worker) override {
    auto plugin = start_worker_plugin(spec_, module_, engine_, worker);
    if (!plugin.ok()) return Error{plugin.error()};
    return std::unique_ptr<proxy::HttpFilterFactory>(std::make_unique<WasmFilterFactory>(
        std::move(plugin.value()), time_us_, allow_headers_stop_iteration_));
  }

 private:
  std::shared_ptr<const pw::PluginSpec> spec_;
  std::shared_ptr<const pw::PluginModule> module_;
  ::weir::wasm::Engine& engine_;
  stats::Histogram* time_us_;
  bool allow_headers_stop_iteration_;
};

}  // namespace

Result<std::shared_ptr<proxy::HttpFilterDefinition>> create_wasm_filter_definition(
    const config::WasmPluginConfig& config, ::weir::wasm::Engine& engine, stats::StatsStore& stats,
    stats::Histogram* time_us) {
  auto loaded = load_and_trial_start(config, engine, stats, "wasm plugin");
  if (!loaded.ok()) return Error{loaded.error()};
  // Higress's host lets its 0.2.100 modules stop on headers alone (their SDK's
  // HeaderStopIteration, which its wrapper returns to read the body first); Envoy lets any
  // plugin whose config says allow_on_headers_stop_iteration.
  const bool allow_headers_stop_iteration = config.allow_on_headers_stop_iteration.value_or(
      loaded.value().module->abi() == pw::AbiVersion::V0_2_100);
  return std::shared_ptr<proxy::HttpFilterDefinition>(std::make_shared<WasmFilterDefinition>(
      loaded.value().spec, loaded.value().module, engine, time_us, allow_headers_stop_iteration));
}

}  // namespace weir::extensions::wasm
