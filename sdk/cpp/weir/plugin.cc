// The plugin side of the Proxy-Wasm ABI 0.2.1: the exported callbacks, the context
// registry and dispatch by context id.
#include "weir/plugin.h"

#include <algorithm>

#include "weir/abi.h"

namespace weir {
namespace {

struct Registration {
  std::string root_id;
  RootFactory root;
  HttpFactory http;
  NetworkFactory network = nullptr;
};

// Filled by RegisterContextFactory objects while static constructors run (_initialize),
// in whatever order the linker placed them: a plain pointer is constant-initialized, so
// it is valid before any constructor runs.
std::vector<Registration>* g_registrations = nullptr;

struct PendingCall {
  uint32_t token;
  uint32_t context_id;
  HttpCallCallback callback;
};

}  // namespace

struct Dispatcher {
  // Live contexts sorted by id. Hosts hand out increasing ids, so a new stream's context is
  // appended and most lookups hit `last`: cheaper per request than a hash map's node
  // allocation, which matters because it runs for every stream.
  std::vector<std::unique_ptr<ContextBase>> contexts;
  ContextBase* last = nullptr;  // one-entry lookup cache
  std::vector<PendingCall> calls;

  std::vector<std::unique_ptr<ContextBase>>::iterator position(uint32_t id) {
    return std::lower_bound(
        contexts.begin(), contexts.end(), id,
        [](const std::unique_ptr<ContextBase>& c, uint32_t wanted) { return c->id() < wanted; });
  }

  ContextBase* find(uint32_t id) {
    if (last && last->id() == id) return last;
    auto it = position(id);
    if (it == contexts.end() || (*it)->id() != id) return nullptr;
    last = it->get();
    return last;
  }
  RootContext* root(uint32_t id) {
    ContextBase* c = find(id);
    return c && c->is_root() ? static_cast<RootContext*>(c) : nullptr;
  }
  HttpContext* http(uint32_t id) {
    ContextBase* c = find(id);
    return c && c->kind() == ContextBase::Kind::Http ? static_cast<HttpContext*>(c) : nullptr;
  }
  NetworkContext* network(uint32_t id) {
    ContextBase* c = find(id);
    return c && c->kind() == ContextBase::Kind::Network ? static_cast<NetworkContext*>(c) : nullptr;
  }

  static int match(std::string_view root_id) {
    if (!g_registrations) return -1;
    const auto& regs = *g_registrations;
    for (size_t i = 0; i < regs.size(); ++i) {
      if (regs[i].root_id == root_id) return static_cast<int>(i);
    }
    for (size_t i = 0; i < regs.size(); ++i) {
      if (regs[i].root_id.empty()) return static_cast<int>(i);
    }
    if (root_id.empty() && regs.size() == 1) return 0;
    return -1;
  }

  void put(uint32_t id, std::unique_ptr<ContextBase> ctx) {
    // The new context is the one the host calls next (its first stream callback).
    ContextBase* added = ctx.get();
    if (contexts.empty() || contexts.back()->id() < id) {
      contexts.push_back(std::move(ctx));
    } else if (auto it = position(id); it != contexts.end() && (*it)->id() == id) {
      *it = std::move(ctx);  // a host that reuses a live id replaces the context
    } else {
      contexts.insert(it, std::move(ctx));
    }
    last = added;
  }

  void create_root(uint32_t id) {
    HostBytes property = get_property({"plugin_root_id"});
    if (!property.ok()) {
      WEIR_LOG_WARN("weir sdk: cannot read property plugin_root_id (", property.status(),
                    "); using \"\"");
    }
    std::string_view root_id = property.ok() ? property.view() : std::string_view();
    int index = match(root_id);
    if (index < 0) {
      std::string known;
      if (g_registrations) {
        for (const auto& r : *g_registrations) {
          known += sdk::str_cat(known.empty() ? "\"" : ", \"", r.root_id, "\"");
        }
      }
      log_critical(sdk::str_cat("weir sdk: no context factory registered for root_id \"", root_id,
                                "\" (registered: ", known.empty() ? "none" : known,
                                "); the plugin will not start"));
      return;
    }
    const Registration& reg = (*g_registrations)[static_cast<size_t>(index)];
    std::unique_ptr<RootContext> ctx =
        reg.root ? reg.root(id, root_id) : std::make_unique<RootContext>(id, root_id);
    if (!ctx) return;
    ctx->registration_ = index;
    put(id, std::move(ctx));
  }

  // A stream of the root's registration: HTTP or network, as it was registered (the
  // host's proxy_on_context_create does not say which).
  void create_stream(uint32_t id, uint32_t parent) {
    RootContext* r = root(parent);
    if (!r || r->registration_ < 0) return;
    const Registration& reg = (*g_registrations)[static_cast<size_t>(r->registration_)];
    if (reg.http) {
      if (std::unique_ptr<HttpContext> ctx = reg.http(id, r)) put(id, std::move(ctx));
    } else if (reg.network) {
      if (std::unique_ptr<NetworkContext> ctx = reg.network(id, r)) put(id, std::move(ctx));
    }  // else a root-only plugin: its streams need no context
  }

  void remove(uint32_t id) {
    auto it = position(id);
    if (it == contexts.end() || (*it)->id() != id) return;
    (*it)->on_delete();
    for (size_t i = 0; i < calls.size();) {
      if (calls[i].context_id == id) {
        calls.erase(calls.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
    last = nullptr;
    contexts.erase(it);  // on_delete() adds or removes no context: `it` is still valid
  }

  void http_call_response(uint32_t root_id, uint32_t token, uint32_t headers, size_t body,
                          uint32_t trailers) {
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].token != token) continue;
      PendingCall call = std::move(calls[i]);
      calls.erase(calls.begin() + static_cast<std::ptrdiff_t>(i));
      if (!find(call.context_id) || !call.callback) return;
      if (call.context_id != root_id) proxy_set_effective_context(call.context_id);
      call.callback(headers, body, trailers);
      return;
    }
  }
};

namespace {
Dispatcher g_dispatcher;
}  // namespace

RegisterContextFactory::RegisterContextFactory(RootFactory root, HttpFactory http,
                                               std::string_view root_id) {
  if (!g_registrations) g_registrations = new std::vector<Registration>();
  g_registrations->push_back(Registration{std::string(root_id), root, http});
}

RegisterNetworkContextFactory::RegisterNetworkContextFactory(RootFactory root,
                                                             NetworkFactory network,
                                                             std::string_view root_id) {
  if (!g_registrations) g_registrations = new std::vector<Registration>();
  g_registrations->push_back(Registration{std::string(root_id), root, nullptr, network});
}

Status ContextBase::http_call(std::string_view cluster, const std::vector<HeaderPair>& headers,
                              std::string_view body, uint32_t timeout_ms, HttpCallCallback callback,
                              uint32_t* token) {
  std::string h = sdk::serialize_header_map(headers);
  std::string t = sdk::serialize_header_map(std::vector<HeaderPair>());
  uint32_t tok = 0;
  auto r = static_cast<Status>(proxy_http_call(cluster.data(), cluster.size(), h.data(), h.size(),
                                               body.data(), body.size(), t.data(), t.size(),
                                               timeout_ms, &tok));
  if (r != Status::Ok) return r;
  g_dispatcher.calls.push_back(PendingCall{tok, id(), std::move(callback)});
  if (token) *token = tok;
  return Status::Ok;
}

Status RootContext::done() {
  proxy_set_effective_context(id());
  return static_cast<Status>(proxy_done());
}

}  // namespace weir

// ---- Exports ------------------------------------------------------------------------------

using weir::g_dispatcher;

extern "C" {

WEIR_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1() {}

WEIR_EXPORT(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) {
  return std::malloc(size);
}

WEIR_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t parent_context_id) {
  if (parent_context_id == 0) {
    g_dispatcher.create_root(context_id);
  } else {
    g_dispatcher.create_stream(context_id, parent_context_id);
  }
}

WEIR_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t context_id, uint32_t vm_configuration_size) {
  weir::RootContext* r = g_dispatcher.root(context_id);
  if (!r) return 0;  // no registration matched: create_root logged why
  weir::HostBytes config;
  if (vm_configuration_size > 0) config = weir::get_vm_configuration();
  return r->on_vm_start(config.view()) ? 1 : 0;
}

WEIR_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t context_id, uint32_t plugin_configuration_size) {
  weir::RootContext* r = g_dispatcher.root(context_id);
  if (!r) return 0;
  weir::HostBytes config;
  if (plugin_configuration_size > 0) config = weir::get_plugin_configuration();
  return r->on_configure(config.view()) ? 1 : 0;
}

WEIR_EXPORT(proxy_on_tick) void proxy_on_tick(uint32_t context_id) {
  if (weir::RootContext* r = g_dispatcher.root(context_id)) r->on_tick();
}

WEIR_EXPORT(proxy_on_queue_ready) void proxy_on_queue_ready(uint32_t context_id, uint32_t queue) {
  if (weir::RootContext* r = g_dispatcher.root(context_id)) r->on_queue_ready(queue);
}

WEIR_EXPORT(proxy_on_http_call_response)
void proxy_on_http_call_response(uint32_t context_id, uint32_t token, uint32_t num_headers,
                                 uint32_t body_size, uint32_t num_trailers) {
  g_dispatcher.http_call_response(context_id, token, num_headers, body_size, num_trailers);
}

WEIR_EXPORT(proxy_on_delete) void proxy_on_delete(uint32_t context_id) {
  g_dispatcher.remove(context_id);
}

}  // extern "C"

// The callbacks exported only when a context type implements them (plugin.h).
namespace weir::sdk {

namespace {
// Pause from a headers callback holds headers and body (the SDK's contract): on the wire
// that is 4, StopAllIterationAndWatermark. 1 (StopIteration) would let the host call the
// body callbacks, and Continue from one of them would resume the stream (Envoy).
uint32_t headers_action(Action a) { return a == Action::Pause ? 4 : static_cast<uint32_t>(a); }
}  // namespace

uint32_t dispatch_request_headers(uint32_t id, uint32_t num_headers, uint32_t end_of_stream) {
  HttpContext* c = g_dispatcher.http(id);
  return c ? headers_action(c->on_request_headers(num_headers, end_of_stream != 0)) : 0;
}

uint32_t dispatch_request_body(uint32_t id, uint32_t body_size, uint32_t end_of_stream) {
  HttpContext* c = g_dispatcher.http(id);
  return c ? static_cast<uint32_t>(c->on_request_body(body_size, end_of_stream != 0)) : 0;
}

uint32_t dispatch_request_trailers(uint32_t id, uint32_t num_trailers) {
  HttpContext* c = g_dispatcher.http(id);
  return c ? static_cast<uint32_t>(c->on_request_trailers(num_trailers)) : 0;
}

uint32_t dispatch_response_headers(uint32_t id, uint32_t num_headers, uint32_t end_of_stream) {
  HttpContext* c = g_dispatcher.http(id);
  return c ? headers_action(c->on_response_headers(num_headers, end_of_stream != 0)) : 0;
}

uint32_t dispatch_response_body(uint32_t id, uint32_t body_size, uint32_t end_of_stream) {
  HttpContext* c = g_dispatcher.http(id);
  return c ? static_cast<uint32_t>(c->on_response_body(body_size, end_of_stream != 0)) : 0;
}

uint32_t dispatch_response_trailers(uint32_t id, uint32_t num_trailers) {
  HttpContext* c = g_dispatcher.http(id);
  return c ? static_cast<uint32_t>(c->on_response_trailers(num_trailers)) : 0;
}

uint32_t dispatch_done(uint32_t id) {
  ContextBase* c = g_dispatcher.find(id);
  return !c || c->on_done() ? 1 : 0;
}

void dispatch_log(uint32_t id) {
  if (ContextBase* c = g_dispatcher.find(id)) c->on_log();
}

// Network callbacks: Envoy reads 0 as Continue and anything else as StopIteration.
uint32_t dispatch_new_connection(uint32_t id) {
  NetworkContext* c = g_dispatcher.network(id);
  return c ? static_cast<uint32_t>(c->on_new_connection()) : 0;
}

uint32_t dispatch_downstream_data(uint32_t id, uint32_t data_size, uint32_t end_of_stream) {
  NetworkContext* c = g_dispatcher.network(id);
  return c ? static_cast<uint32_t>(c->on_downstream_data(data_size, end_of_stream != 0)) : 0;
}

uint32_t dispatch_upstream_data(uint32_t id, uint32_t data_size, uint32_t end_of_stream) {
  NetworkContext* c = g_dispatcher.network(id);
  return c ? static_cast<uint32_t>(c->on_upstream_data(data_size, end_of_stream != 0)) : 0;
}

void dispatch_downstream_connection_close(uint32_t id, uint32_t peer) {
  if (NetworkContext* c = g_dispatcher.network(id))
    c->on_downstream_connection_close(static_cast<PeerType>(peer));
}

void dispatch_upstream_connection_close(uint32_t id, uint32_t peer) {
  if (NetworkContext* c = g_dispatcher.network(id))
    c->on_upstream_connection_close(static_cast<PeerType>(peer));
}

}  // namespace weir::sdk
