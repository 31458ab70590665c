// Test plugin (C++ SDK): external authorization with proxy_http_call.
//  configuration: "<cluster> <timeout_ms>" (default "auth 1000").
//  request headers: calls <cluster> with GET <x-auth-path header, default /check>, the
//    request's authorization header forwarded, and pauses the request.
//    answer 200 -> the request continues with x-auth-status: 200 added;
//    any other status -> local reply 403;
//    no answer (connect failure, timeout: the callback sees 0 headers) -> local reply 500;
//    proxy_http_call refused -> local reply 500 with x-auth-call-status: <status name>.
//  x-auth-response-path on the request: the call is made on the response headers instead
//    (GET <that path>), pausing the response; answer 200 -> the response continues with
//    x-auth-status: 200 added, else local reply 403 (flow control tests hold a response
//    body this way).
#include "weir/plugin.h"

namespace {

class AuthRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;
  bool on_configure(std::string_view configuration) override {
    if (!configuration.empty()) {
      auto space = configuration.find(' ');
      cluster = std::string(configuration.substr(0, space));
      if (space != std::string_view::npos) {
        timeout_ms = static_cast<uint32_t>(
            weir::sdk::parse_uint(configuration.substr(space + 1)).value_or(1000));
      }
    }
    return true;
  }
  std::string cluster = "auth";
  uint32_t timeout_ms = 1000;
};

class AuthHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_response_headers(uint32_t, bool) override {
    if (response_path_.empty()) return weir::Action::Continue;
    AuthRoot* root = root_as<AuthRoot>();
    weir::Status s = http_call(
        root->cluster, {{":method", "GET"}, {":path", response_path_}, {":authority", "auth"}}, "",
        root->timeout_ms, [](uint32_t num_headers, size_t, uint32_t) {
          auto status = weir::http_call_response_headers().get(":status");
          if (num_headers > 0 && status && status.view() == "200") {
            weir::response_headers().add("x-auth-status", "200");
            weir::continue_response();
          } else {
            weir::send_local_response(403, "denied\n", {}, "auth_denied");
          }
        });
    return s == weir::Status::Ok ? weir::Action::Pause : weir::Action::Continue;
  }

  weir::Action on_request_headers(uint32_t, bool) override {
    const auto headers = weir::request_headers();
    if (auto p = headers.get("x-auth-response-path")) {
      response_path_ = p.str();
      return weir::Action::Continue;
    }
    std::string path = "/check";
    if (auto p = headers.get("x-auth-path")) path = p.str();
    std::vector<weir::HeaderPair> call_headers = {
        {":method", "GET"}, {":path", path}, {":authority", "auth"}};
    auto authorization = headers.get("authorization");
    if (authorization) call_headers.push_back({"authorization", authorization.view()});
    AuthRoot* root = root_as<AuthRoot>();
    weir::Status s = http_call(root->cluster, call_headers, "", root->timeout_ms,
                               [](uint32_t num_headers, size_t, uint32_t) {
                                 if (num_headers == 0) {
                                   weir::send_local_response(500, "auth service unavailable\n", {},
                                                             "auth_call_failed");
                                   return;
                                 }
                                 auto status = weir::http_call_response_headers().get(":status");
                                 // Test hook: a trap while the stream waits for this answer.
                                 if (status && status.view() == "599") __builtin_trap();
                                 if (status && status.view() == "200") {
                                   weir::request_headers().add("x-auth-status", "200");
                                   weir::continue_request();
                                 } else {
                                   weir::send_local_response(403, "denied\n", {}, "auth_denied");
                                 }
                               });
    if (s != weir::Status::Ok) {
      weir::send_local_response(500, "auth call refused\n",
                                {{"x-auth-call-status", weir::status_name(s)}},
                                "auth_call_refused");
    }
    return weir::Action::Pause;
  }

 private:
  std::string response_path_;
};

weir::RegisterContextFactory registration(weir::root_factory<AuthRoot>,
                                          weir::http_factory<AuthHttp>, "");

}  // namespace
