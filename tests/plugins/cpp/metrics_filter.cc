// Test plugin (C++ SDK): one metric of each kind, driven by request headers, for the
// metrics tests (admin /stats formats, Prometheus scraping, stats_tags).
//  metrics_filter.requests_total          counter, +1 per request
//  metrics_filter.responses.code.<status> counter per response status (a tagged family)
//  metrics_filter.last_value              gauge, set to x-metrics-value when present
//  metrics_filter.value                   histogram, records x-metrics-value when present
#include "weir/plugin.h"

namespace {

class MetricsRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_vm_start(std::string_view) override {
    requests = weir::Counter::define("metrics_filter.requests_total");
    last_value = weir::Gauge::define("metrics_filter.last_value");
    values = weir::Histogram::define("metrics_filter.value");
    responses = weir::CounterFamily("metrics_filter.responses", {"code"});
    if (!requests.valid() || !last_value.valid() || !values.valid()) {
      weir::log_error("metrics_filter: cannot define metrics");
      return false;
    }
    return true;
  }

  weir::Counter requests;
  weir::Gauge last_value;
  weir::Histogram values;
  weir::CounterFamily responses;
};

class MetricsHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    auto* root = root_as<MetricsRoot>();
    root->requests.increment();
    if (auto value = weir::request_headers().get("x-metrics-value")) {
      if (auto number = weir::sdk::parse_uint(value.view())) {
        root->last_value.set(*number);
        root->values.record(*number);
      }
    }
    return weir::Action::Continue;
  }

  weir::Action on_response_headers(uint32_t, bool) override {
    if (auto status = weir::response_headers().get(":status")) {
      root_as<MetricsRoot>()->responses.get({status.view()}).increment();
    }
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(weir::root_factory<MetricsRoot>,
                                          weir::http_factory<MetricsHttp>, "");

}  // namespace
