// Arbitrary bytes as a bootstrap file, through the entry point `weir -c` uses
// (config::load_bootstrap_string: YAML, every loader, validation). Errors are expected;
// a crash, a hang or unbounded memory is a bug. On success, the config must hold what
// validation promised (every route's cluster exists, every regex compiled).
//
// Inputs that name device or process files are skipped: a DataSource `filename` is read
// whole (an operator's file, as in Envoy), and /dev/stdin would wait forever.
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "config/config.h"
#include "fuzz_check.h"

namespace {

bool names_special_files(std::string_view text) {
  for (std::string_view dir : {"/dev", "/proc", "/sys", "/run", "fd/"}) {
    if (text.find(dir) != std::string_view::npos) return true;
  }
  return false;
}

void check_loaded(const weir::config::BootstrapConfig& config) {
  std::set<std::string> clusters;
  for (const auto& c : config.clusters) clusters.insert(c.name);
  for (const auto& listener : config.listeners) {
    if (listener.tcp_proxy) FUZZ_CHECK(clusters.count(listener.tcp_proxy->cluster) == 1);
    // Network Wasm filters only run before a tcp_proxy.
    FUZZ_CHECK(listener.network_wasm_filters.empty() || listener.tcp_proxy.has_value());
    for (const auto& host : listener.http.route_config.virtual_hosts) {
      for (const auto& route : host.routes) {
        if (route.route) FUZZ_CHECK(clusters.count(route.route->cluster) == 1);
        FUZZ_CHECK(route.route.has_value() != route.direct_response.has_value());
        for (const auto& header : route.match.headers) {
          if (header.kind == weir::config::HeaderMatcher::Kind::String &&
              header.string.kind == weir::config::StringMatch::Kind::Regex) {
            FUZZ_CHECK(header.string.regex != nullptr);
          }
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  if (names_special_files(yaml)) return 0;
  weir::config::LoadOptions options;  // as `weir -c` loads: strict, code files checked
  auto loaded = weir::config::load_bootstrap_string(yaml, "fuzz.yaml", options);
  if (loaded.ok()) {
    check_loaded(loaded->config);
  } else {
    FUZZ_CHECK(!loaded.error().empty());
  }
  return 0;
}
