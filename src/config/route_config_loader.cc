// envoy.config.route.v3.RouteConfiguration: virtual hosts, routes, matches and actions.
#include "config/envoy_names.h"
#include "config/loaders.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

// How many of `fields` are set: for protobuf oneofs, which allow at most one.
int count_present(const ConfigNode& message, std::initializer_list<std::string_view> fields) {
  int count = 0;
  for (std::string_view field : fields) count += message.has(field);
  return count;
}

HeaderMatcher load_header_matcher(const ConfigNode& matcher) {
  matcher.expect_fields(names::kHeaderMatcher, {"name", "exact_match", "prefix_match",
                                                "present_match", "invert_match", "string_match"});
  if (count_present(matcher, {"exact_match", "prefix_match", "present_match", "string_match"}) >
      1) {
    matcher.fail(
        "a header matcher takes only one of exact_match, prefix_match, present_match "
        "and string_match");
  }
  HeaderMatcher result;
  result.name = matcher.required("name").as_nonempty_string();
  if (matcher.has("exact_match")) result.exact_match = matcher.field("exact_match").as_string();
  if (matcher.has("prefix_match")) result.prefix_match = matcher.field("prefix_match").as_string();
  if (matcher.has("present_match")) {
    result.present_match = matcher.field("present_match").as_bool();
  }
  if (matcher.has("invert_match")) result.invert_match = matcher.field("invert_match").as_bool();

  const ConfigNode string_match = matcher.field("string_match");
  string_match.expect_fields(names::kStringMatcher, {"exact", "prefix"});
  if (count_present(string_match, {"exact", "prefix"}) > 1) {
    string_match.fail("a string matcher takes only one of exact and prefix");
  }
  if (string_match.has("exact")) result.exact_match = string_match.field("exact").as_string();
  if (string_match.has("prefix")) result.prefix_match = string_match.field("prefix").as_string();
  return result;
}

RouteMatch load_route_match(const ConfigNode& match) {
  match.expect_fields(names::kRouteMatch,
                      {"prefix", "path", "safe_regex", "headers", "case_sensitive"});
  if (count_present(match, {"prefix", "path", "safe_regex"}) != 1) {
    match.fail("a route match needs exactly one of prefix, path and safe_regex");
  }
  RouteMatch result;
  if (match.has("prefix")) result.prefix = match.field("prefix").as_string();
  if (match.has("path")) result.path = match.field("path").as_string();
  if (match.has("safe_regex")) {
    const ConfigNode regex = match.field("safe_regex");
    // google_re2 only names the engine (Envoy's default); which engine runs is the router's.
    regex.expect_fields(names::kRegexMatcher, {"regex", "google_re2"});
    result.safe_regex = regex.required("regex").as_nonempty_string();
  }
  const ConfigNode case_sensitive = match.field("case_sensitive");
  if (case_sensitive.present() && !case_sensitive.as_bool()) {
    case_sensitive.warn(
        "case-insensitive path matching is not implemented by weir: this route "
        "matches case-sensitively");
  }
  for (const ConfigNode& header : match.field("headers").items()) {
    result.headers.push_back(load_header_matcher(header));
  }
  return result;
}

RouteAction load_route_action(const ConfigNode& action) {
  action.expect_fields(names::kRouteAction,
                       {"cluster", "prefix_rewrite", "timeout", "upgrade_configs"});
  if (!action.has("cluster")) {
    action.fail("missing required field \"cluster\" (weir routes to a named cluster only)");
  }
  RouteAction result;
  result.cluster = action.field("cluster").as_nonempty_string();
  if (action.has("prefix_rewrite")) {
    result.prefix_rewrite = action.field("prefix_rewrite").as_string();
  }
  if (action.has("timeout")) result.timeout = action.field("timeout").as_duration();
  result.upgrade_configs = load_route_upgrade_configs(action.field("upgrade_configs"));
  return result;
}

DirectResponse load_direct_response(const ConfigNode& direct_response) {
  direct_response.expect_fields(names::kDirectResponseAction, {"status", "body"});
  DirectResponse result;
  result.status = static_cast<uint32_t>(direct_response.required("status").as_uint(100, 599));
  if (direct_response.has("body")) result.body = load_data_source(direct_response.field("body"));
  return result;
}

Route load_route(const ConfigNode& route) {
  route.expect_fields(names::kRoute, {"name", "match", "route", "direct_response"});
  Route result;
  result.location = route.location();
  if (route.has("name")) result.name = route.field("name").as_string();
  result.match = load_route_match(route.required("match"));

  const bool forwards = route.has("route");
  const bool responds = route.has("direct_response");
  if (forwards && responds) {
    route.fail("a route takes exactly one of \"route\" and \"direct_response\", not both");
  }
  if (!forwards && !responds) {
    route.fail(
        "a route needs one of \"route\" and \"direct_response\" (weir implements no other "
        "route action)");
  }
  if (forwards) result.route = load_route_action(route.field("route"));
  if (responds) result.direct_response = load_direct_response(route.field("direct_response"));
  return result;
}

VirtualHost load_virtual_host(const ConfigNode& virtual_host) {
  virtual_host.expect_fields(names::kVirtualHost, {"name", "domains", "routes"});
  VirtualHost result;
  result.name = virtual_host.required("name").as_nonempty_string();
  const ConfigNode domains = virtual_host.required("domains");
  for (const ConfigNode& domain : domains.items()) {
    result.domains.push_back(domain.as_nonempty_string());
  }
  if (result.domains.empty()) domains.fail("a virtual host needs at least one domain");
  for (const ConfigNode& route : virtual_host.field("routes").items()) {
    result.routes.push_back(load_route(route));
  }
  return result;
}

}  // namespace

RouteConfiguration load_route_configuration(const ConfigNode& route_config) {
  route_config.expect_fields(names::kRouteConfiguration, {"name", "virtual_hosts"});
  RouteConfiguration result;
  if (route_config.has("name")) result.name = route_config.field("name").as_string();
  for (const ConfigNode& virtual_host : route_config.field("virtual_hosts").items()) {
    result.virtual_hosts.push_back(load_virtual_host(virtual_host));
  }
  return result;
}

}  // namespace weir::config
