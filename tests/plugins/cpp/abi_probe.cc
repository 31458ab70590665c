// Test plugin (C++ SDK + raw ABI): error paths and host behaviour a test can read back.
// The request header x-probe selects what happens:
//  errors     -> local reply 200 whose body lists "<call>=<status code>" lines for host
//                calls made wrong on purpose (bad pointers, missing keys, CAS mismatch,
//                empty queue, unknown cluster, missing :path, unknown foreign function,
//                call-response maps outside the callback).
//  props      -> local reply with properties, one "<path>=<value>" per line.
//  pause      -> pauses the request and never continues it.
//  close      -> proxy_close_stream on the request.
//  chain      -> copies request header x-weir-plugin-config (set by an earlier plugin)
//                into x-seen-by-probe.
//  roots      -> response header x-roots-<root_id>: root contexts created in this VM.
//  buffer-response -> the response body is buffered until end of stream (Pause), then
//                goes on unchanged.
// Every stream: counters abi_probe.on_done / on_log / on_delete, gauge abi_probe.active.
#include <cstdlib>
#include <string>

#include "weir/abi.h"
#include "weir/plugin.h"

extern "C" {
WEIR_HOST_IMPORT(proxy_call_foreign_function)
uint32_t proxy_call_foreign_function(const char* name, size_t name_size, const char* args,
                                     size_t args_size, char** result, size_t* result_size);
}

namespace {

int g_roots_in_vm = 0;
constexpr uintptr_t kBadPtr = 0xFFFFFF00u;  // far past any linear memory a test plugin has

class ProbeRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;
  bool on_configure(std::string_view) override {
    ++g_roots_in_vm;
    on_done_ = weir::Counter::define("abi_probe.on_done");
    on_log_ = weir::Counter::define("abi_probe.on_log");
    on_delete_ = weir::Counter::define("abi_probe.on_delete");
    active_ = weir::Gauge::define("abi_probe.active");
    return true;
  }
  weir::Counter on_done_, on_log_, on_delete_;
  weir::Gauge active_;
};

std::string line(std::string_view name, uint32_t status) {
  return std::string(name) + "=" + std::to_string(status) + "\n";
}

std::string probe_errors() {
  std::string out;
  char* data = nullptr;
  size_t size = 0;
  uint32_t cas = 0;
  out += line("log_bad_pointer", proxy_log(2, reinterpret_cast<const char*>(kBadPtr), 16));
  out +=
      line("header_bad_key_pointer",
           proxy_get_header_map_value(0, reinterpret_cast<const char*>(kBadPtr), 4, &data, &size));
  out += line("header_bad_out_pointer",
              proxy_get_header_map_value(0, ":path", 5, reinterpret_cast<char**>(kBadPtr), &size));
  out += line("header_missing_key", proxy_get_header_map_value(0, "x-nope", 6, &data, &size));
  out += line("shared_missing_key", proxy_get_shared_data("probe-missing", 13, &data, &size, &cas));
  proxy_set_shared_data("probe-key", 9, "v1", 2, 0);
  proxy_get_shared_data("probe-key", 9, &data, &size, &cas);
  std::free(data);
  out += line("shared_cas_mismatch", proxy_set_shared_data("probe-key", 9, "v2", 2, cas + 1000));
  out += line("shared_cas_match", proxy_set_shared_data("probe-key", 9, "v3", 2, cas));
  out += line("shared_stale_cas", proxy_set_shared_data("probe-key", 9, "v4", 2, cas));
  uint32_t queue = 0;
  out += line("queue_resolve_unknown", proxy_resolve_shared_queue("probe", 5, "nope", 4, &queue));
  proxy_register_shared_queue("probe-q", 7, &queue);
  out += line("queue_dequeue_empty", proxy_dequeue_shared_queue(queue, &data, &size));
  out += line("queue_enqueue_unknown", proxy_enqueue_shared_queue(999999, "x", 1));
  uint32_t token = 0;
  // Serialized {":method": "GET", ":path": "/", ":authority": "x"} and one without :path.
  std::string full =
      weir::sdk::serialize_header_map({{":method", "GET"}, {":path", "/"}, {":authority", "x"}});
  std::string no_path = weir::sdk::serialize_header_map({{":method", "GET"}, {":authority", "x"}});
  out += line("http_call_unknown_cluster",
              proxy_http_call("no-such-cluster", 15, full.data(), full.size(), "", 0, nullptr, 0,
                              1000, &token));
  out +=
      line("http_call_missing_path", proxy_http_call("upstream", 8, no_path.data(), no_path.size(),
                                                     "", 0, nullptr, 0, 1000, &token));
  out += line("http_call_bad_pointer",
              proxy_http_call(reinterpret_cast<const char*>(kBadPtr), 8, full.data(), full.size(),
                              "", 0, nullptr, 0, 1000, &token));
  out +=
      line("foreign_function_unknown", proxy_call_foreign_function("nope", 4, "", 0, &data, &size));
  out += line("call_response_header_outside_callback",
              proxy_get_header_map_value(6, ":status", 7, &data, &size));
  out +=
      line("call_response_body_outside_callback", proxy_get_buffer_bytes(4, 0, 10, &data, &size));
  return out;
}

std::string probe_props() {
  std::string out;
  auto add = [&](std::string_view name, weir::PropertyPath path) {
    auto v = weir::get_property(path);
    out += std::string(name) + "=" +
           (v ? v.str() : "<" + std::to_string(static_cast<uint32_t>(v.status())) + ">") + "\n";
  };
  auto add_int = [&](std::string_view name, weir::PropertyPath path) {
    auto v = weir::get_property_int64(path);
    out += std::string(name) + "=" + (v ? std::to_string(*v) : "<none>") + "\n";
  };
  add("request.path", {"request", "path"});
  add("request.method", {"request", "method"});
  add("request.host", {"request", "host"});
  add("plugin_name", {"plugin_name"});
  add("plugin_root_id", {"plugin_root_id"});
  add("plugin_vm_id", {"plugin_vm_id"});
  add("source.address", {"source", "address"});
  add_int("destination.port", {"destination", "port"});
  add("no.such.property", {"no", "such", "property"});
  // TLS facts (Envoy's names): NOT_FOUND (<1>) on a plaintext connection but mtls.
  add("connection.tls_version", {"connection", "tls_version"});
  add("connection.requested_server_name", {"connection", "requested_server_name"});
  add("connection.subject_peer_certificate", {"connection", "subject_peer_certificate"});
  add("connection.uri_san_peer_certificate", {"connection", "uri_san_peer_certificate"});
  add("upstream.tls_version", {"upstream", "tls_version"});
  {
    auto mtls = weir::get_property({"connection", "mtls"});
    out += std::string("connection.mtls=") +
           (mtls && !mtls.str().empty() && mtls.str()[0] ? "true" : "false") + "\n";
  }
  weir::set_property({"probe", "mine"}, "set-by-plugin");
  add("probe.mine", {"probe", "mine"});
  return out;
}

class ProbeHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    root_as<ProbeRoot>()->active_.add(1);
    const auto headers = weir::request_headers();
    auto probe = headers.get("x-probe");
    if (!probe) return weir::Action::Continue;
    mode_ = probe.str();
    if (mode_ == "errors") {
      weir::send_local_response(200, probe_errors(), {}, "probe");
      return weir::Action::Pause;
    }
    if (mode_ == "props") {
      weir::send_local_response(200, probe_props(), {}, "probe");
      return weir::Action::Pause;
    }
    if (mode_ == "pause") return weir::Action::Pause;  // never continued
    if (mode_ == "close") {
      weir::close_request();
      return weir::Action::Pause;
    }
    if (mode_ == "chain") {
      headers.add("x-seen-by-probe", headers.get("x-weir-plugin-config").value_or("<missing>"));
    }
    return weir::Action::Continue;
  }

  weir::Action on_response_headers(uint32_t, bool) override {
    if (mode_ == "roots") {
      std::string root_id(weir::get_property({"plugin_root_id"}).view());
      weir::response_headers().add("x-roots-" + root_id, std::to_string(g_roots_in_vm));
    }
    return weir::Action::Continue;
  }

  weir::Action on_response_body(size_t, bool end_of_stream) override {
    if (mode_ == "buffer-response" && !end_of_stream) return weir::Action::Pause;
    return weir::Action::Continue;
  }

  bool on_done() override {
    root_as<ProbeRoot>()->on_done_.increment(1);
    return true;
  }
  void on_log() override { root_as<ProbeRoot>()->on_log_.increment(1); }
  void on_delete() override {
    root_as<ProbeRoot>()->on_delete_.increment(1);
    root_as<ProbeRoot>()->active_.add(-1);
  }

 private:
  std::string mode_;
};

weir::RegisterContextFactory registration(weir::root_factory<ProbeRoot>,
                                          weir::http_factory<ProbeHttp>, "");

}  // namespace
