// Test plugin (C++ SDK) for `make soak`: traps at random, to exercise the failure policy
// under load. The plugin configuration is "trap_one_in=N": each request traps (executes
// `unreachable`) with probability 1/N in on_request_headers; 0 never traps. Requests that
// pass get x-random-trap: passed on their response, so a client can check the plugin ran.
// The random choice is a xorshift generator seeded from the clock at start: a reloaded VM
// takes a different sequence.
#include "weir/plugin.h"

namespace {

class TrapRoot : public weir::RootContext {
 public:
  using RootContext::RootContext;

  bool on_configure(std::string_view configuration) override {
    constexpr std::string_view kKey = "trap_one_in=";
    if (!configuration.starts_with(kKey)) return false;
    auto n = weir::sdk::parse_uint(configuration.substr(kKey.size()));
    if (!n) return false;
    one_in = *n;
    state = weir::current_time_ns() | 1;
    return true;
  }

  bool should_trap() {
    if (one_in == 0) return false;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state % one_in == 0;
  }

  uint64_t one_in = 0;
  uint64_t state = 1;
};

class TrapHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    if (root_as<TrapRoot>()->should_trap()) __builtin_trap();
    return weir::Action::Continue;
  }

  weir::Action on_response_headers(uint32_t, bool) override {
    weir::response_headers().add("x-random-trap", "passed");
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(weir::root_factory<TrapRoot>,
                                          weir::http_factory<TrapHttp>, "");

}  // namespace
