// envoy.config.route.v3.RouteConfiguration: virtual hosts, routes, matches and actions.
#include <cctype>
#include <charconv>
#include <set>

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

int64_t as_int64(const ConfigNode& node) {
  // int64 fields are numbers or, in protobuf's JSON mapping, strings of digits.
  const std::string text = node.as_string();
  int64_t value = 0;
  auto [at, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || at != text.data() + text.size()) {
    node.fail("expected a 64-bit integer, got " + node.kind_name());
  }
  return value;
}

HeaderMatcher load_header_matcher(const ConfigNode& matcher) {
  matcher.expect_fields(names::kHeaderMatcher,
                        {"name", "exact_match", "safe_regex_match", "range_match", "present_match",
                         "prefix_match", "suffix_match", "contains_match", "string_match",
                         "invert_match", "treat_missing_header_as_empty"});
  if (count_present(matcher, {"exact_match", "safe_regex_match", "range_match", "present_match",
                              "prefix_match", "suffix_match", "contains_match", "string_match"}) >
      1) {
    matcher.fail(
        "a header matcher takes only one of exact_match, safe_regex_match, range_match, "
        "present_match, prefix_match, suffix_match, contains_match and string_match");
  }
  HeaderMatcher result;
  result.name = matcher.required("name").as_nonempty_string();
  auto string_kind = [&](StringMatch::Kind kind, std::string value) {
    result.kind = HeaderMatcher::Kind::String;
    result.string.kind = kind;
    result.string.value = std::move(value);
  };
  if (matcher.has("exact_match")) {
    // Envoy's legacy exact_match: an empty value matches any value of a present header.
    std::string value = matcher.field("exact_match").as_string();
    if (!value.empty()) string_kind(StringMatch::Kind::Exact, std::move(value));
  } else if (matcher.has("prefix_match")) {
    string_kind(StringMatch::Kind::Prefix, matcher.field("prefix_match").as_nonempty_string());
  } else if (matcher.has("suffix_match")) {
    string_kind(StringMatch::Kind::Suffix, matcher.field("suffix_match").as_nonempty_string());
  } else if (matcher.has("contains_match")) {
    string_kind(StringMatch::Kind::Contains, matcher.field("contains_match").as_nonempty_string());
  } else if (matcher.has("safe_regex_match")) {
    result.kind = HeaderMatcher::Kind::String;
    result.string.kind = StringMatch::Kind::Regex;
    result.string.regex = load_regex_matcher(matcher.field("safe_regex_match"));
  } else if (matcher.has("string_match")) {
    result.kind = HeaderMatcher::Kind::String;
    result.string = load_string_matcher(matcher.field("string_match"));
  } else if (matcher.has("range_match")) {
    const ConfigNode range = matcher.field("range_match");
    range.expect_fields(names::kInt64Range, {"start", "end"});
    result.kind = HeaderMatcher::Kind::Range;
    if (range.has("start")) result.range_start = as_int64(range.field("start"));
    if (range.has("end")) result.range_end = as_int64(range.field("end"));
    if (result.range_end <= result.range_start) {
      range.fail("a range match needs start < end (the range is [start, end))");
    }
  } else if (matcher.has("present_match")) {
    result.present = matcher.field("present_match").as_bool();
  }
  if (matcher.has("invert_match")) result.invert_match = matcher.field("invert_match").as_bool();
  if (matcher.has("treat_missing_header_as_empty")) {
    result.treat_missing_as_empty = matcher.field("treat_missing_header_as_empty").as_bool();
  }
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
  if (match.has("safe_regex")) result.safe_regex = load_regex_matcher(match.field("safe_regex"));
  if (match.has("case_sensitive")) result.case_sensitive = match.field("case_sensitive").as_bool();
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
  route.expect_fields(names::kRoute, {"name", "match", "route", "direct_response", "metadata"});
  Route result;
  result.location = route.location();
  if (route.has("name")) result.name = route.field("name").as_string();
  result.metadata = load_metadata(route.field("metadata"));
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
  route_config.expect_fields(names::kRouteConfiguration,
                             {"name", "virtual_hosts", "ignore_port_in_host_matching"});
  RouteConfiguration result;
  if (route_config.has("name")) result.name = route_config.field("name").as_string();
  if (route_config.has("ignore_port_in_host_matching")) {
    result.ignore_port_in_host_matching =
        route_config.field("ignore_port_in_host_matching").as_bool();
  }
  // As Envoy: a domain (compared lower-cased) belongs to one virtual host only.
  std::set<std::string> domains;
  for (const ConfigNode& virtual_host : route_config.field("virtual_hosts").items()) {
    result.virtual_hosts.push_back(load_virtual_host(virtual_host));
    for (const std::string& domain : result.virtual_hosts.back().domains) {
      std::string lower = domain;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (!domains.insert(lower).second) {
        virtual_host.field("domains").fail(
            "Only unique values for domains are permitted. "
            "Duplicate entry of domain " +
            domain);
      }
    }
  }
  return result;
}

}  // namespace weir::config
