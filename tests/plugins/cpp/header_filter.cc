// Test plugin (C++ SDK): header manipulation, configuration, properties, local replies.
//  request:  adds x-weir-plugin-config: <plugin configuration>; removes x-remove-me;
//            sets x-replace-me to "replaced" when present; logs the path at info;
//            x-local-reply: <code> -> local response <code>, body "local reply from plugin\n",
//            header x-local: yes.
//  response: adds x-weir-root-id: <property plugin_root_id> and
//            x-weir-protocol: <property request.protocol>.
//  on_done (root): logs "header_filter: on_done, root_id <id>" (a hot reload's old plugin).
// Registered for every root_id (""), so tests may configure any root_id.
#include "weir/plugin.h"

namespace {

class HeaderRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view configuration) override {
    config = std::string(configuration);
    LOG_INFO("header_filter: configured, root_id \"", root_id(), "\", ", config.size(),
             " bytes of configuration");
    return true;
  }

  bool on_done() override {
    LOG_INFO("header_filter: on_done, root_id ", root_id());
    return true;
  }

  std::string config;
};

class HeaderHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    const auto headers = weir::request_headers();
    if (auto path = headers.get(":path")) {
      LOG_INFO("header_filter: request path ", path.view());
    }
    if (auto code = headers.get("x-local-reply")) {
      auto status = weir::sdk::parse_uint(code.view());
      if (status && *status >= 100 && *status <= 999) {
        weir::send_local_response(static_cast<uint32_t>(*status), "local reply from plugin\n",
                                  {{"x-local", "yes"}}, "header_filter_local_reply");
        return weir::Action::Pause;
      }
      LOG_WARN("header_filter: ignoring x-local-reply \"", code.view(), "\"");
    }
    headers.add("x-weir-plugin-config", root_as<HeaderRoot>()->config);
    headers.remove("x-remove-me");
    if (headers.contains("x-replace-me")) headers.replace("x-replace-me", "replaced");
    return weir::Action::Continue;
  }

  weir::Action on_response_headers(uint32_t, bool) override {
    auto root_id = weir::get_property({"plugin_root_id"});
    if (root_id) {
      weir::response_headers().add("x-weir-root-id", root_id.view());
    } else {
      LOG_WARN("header_filter: property plugin_root_id: ", root_id.status());
    }
    if (auto protocol = weir::get_property({"request", "protocol"})) {
      weir::response_headers().add("x-weir-protocol", protocol.view());
    }
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(weir::root_factory<HeaderRoot>,
                                          weir::http_factory<HeaderHttp>, "");

}  // namespace
