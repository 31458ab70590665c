// auth-call: before a request goes upstream, asks an auth service (an HTTP call to a
// configured cluster) whether it may, forwarding the request's `authorization` header.
// 200 from the auth service: the request goes on. Any other status: 403. No answer (timeout,
// connection refused, call refused by the host): 503. The request waits meanwhile.
//
// Configuration ("key: value" lines): cluster (required), path (default /check),
// authority (default: the cluster name), timeout_ms (default 1000).
#include <string>
#include <vector>

#include "weir/plugin.h"

namespace {

class AuthRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view configuration) override {
    auto config = weir::ConfigLines::parse(configuration);
    std::string error = config.ok()
                            ? config.check_keys({"cluster", "path", "authority", "timeout_ms"})
                            : config.error();
    cluster = config.get_or("cluster", "");
    path = config.get_or("path", "/check");
    authority = config.get_or("authority", cluster);
    auto timeout = config.get_uint("timeout_ms", 1000);
    if (error.empty() && cluster.empty()) error = "'cluster: <name>' is required";
    if (error.empty() && (!timeout || *timeout == 0 || *timeout > 60000)) {
      error = "timeout_ms must be a number of milliseconds, 1 to 60000";
    }
    if (!error.empty()) {
      LOG_ERROR("auth-call: bad configuration: ", error);
      return false;
    }
    timeout_ms = static_cast<uint32_t>(*timeout);
    allowed = weir::Counter::define("auth_call.allowed");
    denied = weir::Counter::define("auth_call.denied");
    failed = weir::Counter::define("auth_call.failed");
    return true;
  }

  std::string cluster, path, authority;
  uint32_t timeout_ms = 1000;
  weir::Counter allowed, denied, failed;
};

class AuthHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    AuthRoot* root = root_as<AuthRoot>();
    weir::HostBytes authorization = weir::request_headers().get("authorization");
    std::vector<weir::HeaderPair> headers = {
        {":method", "GET"}, {":path", root->path}, {":authority", root->authority}};
    if (authorization) headers.emplace_back("authorization", authorization.view());

    weir::Status sent =
        http_call(root->cluster, headers, /*body=*/"", root->timeout_ms,
                  [this](uint32_t num_headers, size_t, uint32_t) { on_auth_answer(num_headers); });
    if (sent != weir::Status::Ok) {
      LOG_ERROR("auth-call: cannot call cluster '", root->cluster, "': ", sent);
      unavailable();
    }
    return weir::Action::Pause;  // until on_auth_answer() continues or answers
  }

 private:
  // Runs with this stream's context current; not at all if the client left meanwhile.
  void on_auth_answer(uint32_t num_headers) {
    AuthRoot* root = root_as<AuthRoot>();
    if (num_headers == 0) {  // no answer: timeout or connection failure
      LOG_WARN("auth-call: no answer from cluster '", root->cluster, "'");
      unavailable();
      return;
    }
    weir::HostBytes status = weir::http_call_response_headers().get(":status");
    if (status.view() == "200") {
      root->allowed.increment();
      weir::continue_request();
      return;
    }
    root->denied.increment();
    LOG_DEBUG("auth-call: denied (auth service answered ", status.value_or("?"), ")");
    weir::send_local_response(403, "forbidden\n", {{"content-type", "text/plain"}},
                              "auth_call_denied");
  }

  void unavailable() {
    root_as<AuthRoot>()->failed.increment();
    weir::send_local_response(503, "auth service unavailable\n", {{"content-type", "text/plain"}},
                              "auth_call_failed");
  }
};

weir::RegisterContextFactory registration(weir::root_factory<AuthRoot>,
                                          weir::http_factory<AuthHttp>, "auth_call");

}  // namespace
