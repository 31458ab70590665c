// Test plugin (C++ SDK): misbehaves on request, to test the host's failure handling.
//  x-weir-trap: executes `unreachable` (__builtin_trap).
//  x-weir-loop: spins forever (needs the host's CPU limit / interrupt).
//  x-weir-grow: allocates 1 MiB blocks, touching every page, until malloc fails, then
//               traps (as a C++ plugin does when `new` fails without exceptions).
//  otherwise:   continues; the response gets x-trap-filter: ok.
// Registered for every root_id ("").
#include <cstdlib>

#include "weir/plugin.h"

namespace {

volatile uint64_t g_spins = 0;
void* volatile g_last_block = nullptr;

[[noreturn]] void grow_until_malloc_fails() {
  constexpr size_t kBlock = 1 << 20;
  size_t total = 0;
  for (;;) {
    auto* block = static_cast<char*>(std::malloc(kBlock));
    if (!block) break;
    for (size_t i = 0; i < kBlock; i += 4096) block[i] = 1;  // really use the pages
    g_last_block = block;                                    // and keep them
    total += kBlock;
  }
  weir::log_critical(weir::str_cat("trap_filter: malloc failed after ", total >> 20, " MiB"));
  __builtin_trap();
}

class TrapHttp : public weir::HttpContext {
 public:
  using HttpContext::HttpContext;

  weir::Action on_request_headers(uint32_t, bool) override {
    const auto headers = weir::request_headers();
    if (headers.contains("x-weir-trap")) {
      weir::log_warn("trap_filter: trapping on purpose");
      __builtin_trap();
    }
    if (headers.contains("x-weir-loop")) {
      weir::log_warn("trap_filter: looping forever on purpose");
      for (;;) g_spins = g_spins + 1;
    }
    if (headers.contains("x-weir-grow")) {
      weir::log_warn("trap_filter: allocating until malloc fails, on purpose");
      grow_until_malloc_fails();
    }
    return weir::Action::Continue;
  }

  weir::Action on_response_headers(uint32_t, bool) override {
    weir::response_headers().add("x-trap-filter", "ok");
    return weir::Action::Continue;
  }
};

weir::RegisterContextFactory registration(nullptr, weir::http_factory<TrapHttp>, "");

}  // namespace
