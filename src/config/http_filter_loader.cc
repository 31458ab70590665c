// HttpConnectionManager.http_filters: Wasm filters, ending with the router.
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

constexpr std::string_view kSupportedFilters =
    "weir runs envoy.filters.http.wasm and envoy.filters.http.router (or envoy.router)";

// Envoy picks a filter's implementation by its typed_config type, and by its name only
// when there is no typed_config; weir does the same.
HttpFilterConfig::Kind filter_kind(const ConfigNode& name, const ConfigNode& typed_config) {
  const std::string type = typed_config_type(typed_config);
  if (type == names::kWasmFilter) return HttpFilterConfig::Kind::Wasm;
  if (type == names::kRouter) return HttpFilterConfig::Kind::Router;
  if (!type.empty()) {
    typed_config.fail("unsupported HTTP filter type \"" + type +
                      "\": " + std::string(kSupportedFilters));
  }
  const std::string filter_name = name.as_string();
  if (filter_name == names::kWasmFilterName) return HttpFilterConfig::Kind::Wasm;
  if (filter_name == names::kRouterName || filter_name == names::kRouterOldName) {
    return HttpFilterConfig::Kind::Router;
  }
  name.fail("unknown HTTP filter \"" + filter_name + "\": " + std::string(kSupportedFilters));
}

HttpFilterConfig load_http_filter(const ConfigNode& filter) {
  filter.expect_fields(names::kHttpFilter, {"name", "typed_config"});
  HttpFilterConfig result;
  result.location = filter.location();
  const ConfigNode name = filter.required("name");
  result.name = name.as_nonempty_string();
  const ConfigNode typed_config = filter.field("typed_config");
  result.kind = filter_kind(name, typed_config);

  if (result.kind == HttpFilterConfig::Kind::Wasm) {
    const ConfigNode wasm = typed_config_body(filter.required("typed_config"), names::kWasmFilter);
    wasm.expect_fields(names::kWasmFilter, {"config"});
    result.wasm = load_wasm_plugin(wasm.required("config"));
    result.wasm.location = typed_config.location();
  } else {
    // The router's options are all Envoy features weir lacks: each draws a warning.
    typed_config_body(typed_config, names::kRouter).expect_fields(names::kRouter, {});
  }
  return result;
}

}  // namespace

std::vector<HttpFilterConfig> load_http_filters(const ConfigNode& http_filters) {
  std::vector<HttpFilterConfig> filters;
  const std::vector<ConfigNode> items = http_filters.items();
  filters.reserve(items.size());
  for (const ConfigNode& item : items) filters.push_back(load_http_filter(item));

  if (filters.empty() || filters.back().kind != HttpFilterConfig::Kind::Router) {
    const ConfigNode& where = items.empty() ? http_filters : items.back();
    where.fail("the HTTP filter chain must end with the router (envoy.filters.http.router)");
  }
  for (size_t i = 0; i + 1 < filters.size(); ++i) {
    if (filters[i].kind == HttpFilterConfig::Kind::Router) {
      items[i].fail("the router must be the last HTTP filter: the filters after it never run");
    }
  }
  return filters;
}

}  // namespace weir::config
