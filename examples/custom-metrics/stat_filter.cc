// Counts requests and responses with two plugin-defined counters, visible on the admin
// interface: curl -s localhost:9901/stats | grep stat_filter
#include "weir/plugin.h"

namespace {

class StatRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_vm_start(std::string_view) override {
    requests = weir::Counter::define("stat_filter.custom_metric.num_of_request");
    responses = weir::Counter::define("stat_filter.custom_metric.num_of_response");
    if (!requests.valid() || !responses.valid()) {
      weir::log_error("stat_filter: cannot define counters");
      return false;
    }
    return true;
  }

  weir::Counter requests;
  weir::Counter responses;
};

class StatHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    root_as<StatRoot>()->requests.increment();
    return weir::Action::Continue;
  }

  weir::Action on_response_headers(uint32_t, bool) override {
    root_as<StatRoot>()->responses.increment();
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(weir::root_factory<StatRoot>,
                                          weir::http_factory<StatHttp>, "stat_filter");

}  // namespace
