// Test plugin (C++ SDK): a bootstrap service and the filter that uses what it shares.
//  root_id "token_service" (run as a WasmService, singleton): every tick (configuration
//    "<cluster> <period_ms>", default "token 1000") fetches GET /token?n=<k> from
//    <cluster> and stores "token-<k>" in shared data "token" (k counts refreshes). It
//    owns the shared queue "hits": on_queue_ready drains it (until EMPTY) and adds the
//    number of items to shared data "hits" with compare-and-swap.
//  root_id "token_reader" (an HTTP filter on every worker): adds x-token: <shared
//    "token"> to requests (503 when none yet) and enqueues the path on "hits";
//    x-show-hits: 1 answers locally with the "hits" count.
#include <string>

#include "weir/plugin.h"

namespace {

constexpr std::string_view kVmId = "tokens";

class ServiceRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view configuration) override {
    uint32_t period = 1000;
    if (!configuration.empty()) {
      auto space = configuration.find(' ');
      cluster_ = std::string(configuration.substr(0, space));
      if (space != std::string_view::npos) {
        period = static_cast<uint32_t>(
            weir::sdk::parse_uint(configuration.substr(space + 1)).value_or(1000));
      }
    }
    auto q = weir::register_shared_queue("hits");
    if (!q) return false;
    weir::set_tick_period_ms(period);
    return true;
  }

  void on_tick() override {
    const uint32_t n = ++refreshes_;
    std::string path = "/token?n=" + std::to_string(n);
    weir::Status s =
        http_call(cluster_, {{":method", "GET"}, {":path", path}, {":authority", "token"}}, "", 500,
                  [n](uint32_t num_headers, size_t, uint32_t) {
                    if (num_headers == 0) {
                      LOG_WARN("token_service: refresh ", n, " failed");
                      return;
                    }
                    weir::set_shared_data("token", "token-" + std::to_string(n));
                  });
    if (s != weir::Status::Ok) LOG_ERROR("token_service: http_call: ", s);
  }

  void on_queue_ready(uint32_t queue) override {
    uint64_t items = 0;
    for (;;) {
      auto item = weir::dequeue_shared_queue(queue);
      if (!item) break;  // Empty
      ++items;
    }
    for (;;) {  // compare-and-swap loop
      auto current = weir::get_shared_data("hits");
      uint64_t n = current.value ? weir::sdk::parse_uint(current.value.view()).value_or(0) : 0;
      if (weir::set_shared_data("hits", std::to_string(n + items), current.cas) !=
          weir::Status::CasMismatch)
        break;
    }
  }

 private:
  std::string cluster_ = "token";
  uint32_t refreshes_ = 0;
};

class ReaderHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    const auto headers = weir::request_headers();
    if (headers.contains("x-show-hits")) {
      auto hits = weir::get_shared_data("hits");
      weir::send_local_response(200, hits.value ? hits.value.str() : "0", {}, "show_hits");
      return weir::Action::Pause;
    }
    auto token = weir::get_shared_data("token");
    if (!token.value) {
      weir::send_local_response(503, "no token yet\n", {}, "no_token");
      return weir::Action::Pause;
    }
    headers.add("x-token", token.value.view());
    if (auto q = weir::resolve_shared_queue(kVmId, "hits")) {
      weir::enqueue_shared_queue(*q, headers.get(":path").value_or("?"));
    }
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory service(weir::root_factory<ServiceRoot>, nullptr, "token_service");
weir::RegisterContextFactory reader(nullptr, weir::http_factory<ReaderHttp>, "token_reader");

}  // namespace
