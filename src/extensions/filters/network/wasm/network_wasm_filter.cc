#include "extensions/filters/network/wasm/network_wasm_filter.h"

#include <optional>

#include "extensions/common/wasm/plugin_loader.h"
#include "extensions/common/wasm/plugin_stream.h"
#include "extensions/common/wasm/stream_properties.h"
#include "extensions/common/wasm/worker_services.h"
#include "proxy_wasm/network_stream_host.h"
#include "proxy_wasm/properties.h"
#include "proxy_wasm/vm.h"

namespace weir::extensions::wasm {

namespace pw = ::weir::proxy_wasm;
using network::FilterStatus;

namespace {

class NetworkWasmFilter final : public network::NetworkFilter,
                                public pw::NetworkStreamHost,
                                private PluginStream {
 public:
  NetworkWasmFilter(std::shared_ptr<pw::WorkerPlugin> plugin, network::NetworkFilterCallbacks& cb)
      : PluginStream(std::move(plugin)), cb_(cb) {}

  ~NetworkWasmFilter() override { finish(); }

  // ---- network::NetworkFilter
  FilterStatus on_new_connection() override {
    if (!ensure_context(this)) return passive();
    return run([&] { return ctx_->on_new_connection(); });
  }

  FilterStatus on_downstream_data(std::string& data, bool end_stream) override {
    if (mode_ != Mode::Active) return passive();
    downstream_data_ = &data;
    FilterStatus s = run(
        [&] { return ctx_->on_downstream_data(static_cast<uint32_t>(data.size()), end_stream); });
    downstream_data_ = nullptr;
    return s;
  }

  FilterStatus on_upstream_data(std::string& data, bool end_stream) override {
    if (mode_ != Mode::Active) return passive();
    upstream_data_ = &data;
    FilterStatus s =
        run([&] { return ctx_->on_upstream_data(static_cast<uint32_t>(data.size()), end_stream); });
    upstream_data_ = nullptr;
    return s;
  }

  void on_downstream_close(bool by_remote) override {
    if (mode_ != Mode::Active) return;
    in_callback_ = true;
    ctx_->on_downstream_connection_close(by_remote ? pw::PeerType::Remote : pw::PeerType::Local);
    in_callback_ = false;
  }

  void on_upstream_close(bool by_remote) override {
    if (mode_ != Mode::Active) return;
    in_callback_ = true;
    ctx_->on_upstream_connection_close(by_remote ? pw::PeerType::Remote : pw::PeerType::Local);
    in_callback_ = false;
  }

  void on_session_complete() override { finish(); }

  // ---- pw::NetworkStreamHost
  std::string* data_buffer(pw::BufferType type) override {
    return type == pw::BufferType::DownstreamData ? downstream_data_ : upstream_data_;
  }

  pw::WasmResult continue_stream(pw::StreamType type) override {
    if (type != pw::StreamType::Downstream && type != pw::StreamType::Upstream) {
      return pw::WasmResult::Unimplemented;  // an HTTP stream's type
    }
    if (in_callback_) {
      continue_requested_ = true;  // the callback's PAUSE becomes CONTINUE
      return pw::WasmResult::Ok;
    }
    after_vm_call([this, type] {
      if (type == pw::StreamType::Downstream) cb_.continue_downstream();
      cb_.continue_upstream();
    });
    return pw::WasmResult::Ok;
  }

  pw::WasmResult close_stream(pw::StreamType type) override {
    if (type != pw::StreamType::Downstream && type != pw::StreamType::Upstream) {
      return pw::WasmResult::Unimplemented;
    }
    cb_.close_connection(type == pw::StreamType::Downstream);  // after the callback
    return pw::WasmResult::Ok;
  }

  bool get_stream_property(std::string_view path, std::string& out) override {
    const proxy::StreamInfo& si = cb_.stream_info();
    PropertyAnswer answer(path, out);
    if (answer.connection_facts(si)) return true;
    if (answer.is("connection.mtls")) return answer.boolean(false);
    if (answer.is("cluster_name")) {
      return si.cluster_name.empty() ? false : answer.str(si.cluster_name);
    }
    if (answer.is("connection.bytes_received") || answer.is("request.total_size")) {
      return answer.num(static_cast<int64_t>(si.bytes_received));
    }
    if (answer.is("response.total_size")) return answer.num(static_cast<int64_t>(si.bytes_sent));
    return false;
  }

  void on_vm_failed() override {
    if (in_callback_ || mode_ != Mode::Active) return;  // run() handles our own
    after_vm_call([this] {
      if (mode_ != Mode::Active) return;
      on_failure();
      if (mode_ == Mode::Bypass) {
        cb_.continue_downstream();
        cb_.continue_upstream();
      }
    });
  }

 private:
  // A callback not run: bypassed connections go on; a failed one holds everything until
  // its close (already asked for) takes effect.
  FilterStatus passive() const {
    return mode_ == Mode::Failed ? FilterStatus::StopIteration : FilterStatus::Continue;
  }

  void fail_closed() override {
    mode_ = Mode::Failed;
    cb_.close_connection(true);
  }

  template <typename F>
  FilterStatus run(F&& callback) {
    in_callback_ = true;
    continue_requested_ = false;
    const pw::Action a = callback();
    in_callback_ = false;
    switch (a) {
      case pw::Action::Failed:
        on_failure();
        return passive();
      case pw::Action::Continue:
      case pw::Action::LocalReply:
        return FilterStatus::Continue;
      default:
        return continue_requested_ ? FilterStatus::Continue : FilterStatus::StopIteration;
    }
  }

  network::NetworkFilterCallbacks& cb_;
  bool in_callback_ = false;
  bool continue_requested_ = false;
  std::string* downstream_data_ = nullptr;  // during proxy_on_downstream_data
  std::string* upstream_data_ = nullptr;    // during proxy_on_upstream_data
};

class NetworkWasmFilterFactory final : public network::NetworkFilterFactory {
 public:
  explicit NetworkWasmFilterFactory(std::shared_ptr<pw::WorkerPlugin> plugin)
      : plugin_(std::move(plugin)) {}
  std::unique_ptr<network::NetworkFilter> create_filter(
      network::NetworkFilterCallbacks& callbacks) override {
    return std::make_unique<NetworkWasmFilter>(plugin_, callbacks);
  }

 private:
  std::shared_ptr<pw::WorkerPlugin> plugin_;
};

class NetworkWasmFilterDefinition final : public network::NetworkFilterDefinition {
 public:
  NetworkWasmFilterDefinition(std::shared_ptr<const pw::PluginSpec> spec,
                              std::shared_ptr<const pw::PluginModule> module,
                              ::weir::wasm::Engine& engine)
      : spec_(std::move(spec)), module_(std::move(module)), engine_(engine) {}

  Result<std::unique_ptr<network::NetworkFilterFactory>> create_worker_factory(
      proxy::WorkerContext& worker) override {
    auto plugin = start_worker_plugin(spec_, module_, engine_, worker);
    if (!plugin.ok()) return Error{plugin.error()};
    return std::unique_ptr<network::NetworkFilterFactory>(
        std::make_unique<NetworkWasmFilterFactory>(std::move(plugin.value())));
  }

 private:
  std::shared_ptr<const pw::PluginSpec> spec_;
  std::shared_ptr<const pw::PluginModule> module_;
  ::weir::wasm::Engine& engine_;
};

}  // namespace

Result<std::shared_ptr<network::NetworkFilterDefinition>> create_network_wasm_filter_definition(
    const config::WasmPluginConfig& config, ::weir::wasm::Engine& engine,
    stats::StatsStore& stats) {
  auto loaded = load_and_trial_start(config, engine, stats, "network wasm plugin");
  if (!loaded.ok()) return Error{loaded.error()};
  return std::shared_ptr<network::NetworkFilterDefinition>(
      std::make_shared<NetworkWasmFilterDefinition>(loaded.value().spec, loaded.value().module,
                                                    engine));
}

}  // namespace weir::extensions::wasm
