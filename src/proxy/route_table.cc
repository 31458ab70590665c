#include "proxy/route_table.h"

#include <charconv>

namespace weir::proxy {

namespace {

bool starts_with(std::string_view text, std::string_view prefix, bool ignore_case) {
  if (!ignore_case) return text.starts_with(prefix);
  return text.size() >= prefix.size() && http::iequals(text.substr(0, prefix.size()), prefix);
}

bool ends_with(std::string_view text, std::string_view suffix, bool ignore_case) {
  if (!ignore_case) return text.ends_with(suffix);
  return text.size() >= suffix.size() &&
         http::iequals(text.substr(text.size() - suffix.size()), suffix);
}

bool string_matches(const config::StringMatch& match, std::string_view value) {
  using Kind = config::StringMatch::Kind;
  switch (match.kind) {
    case Kind::Exact:
      return match.ignore_case ? http::iequals(value, match.value) : value == match.value;
    case Kind::Prefix:
      return starts_with(value, match.value, match.ignore_case);
    case Kind::Suffix:
      return ends_with(value, match.value, match.ignore_case);
    case Kind::Contains:
      if (!match.ignore_case) return value.find(match.value) != std::string_view::npos;
      return http::to_lower(value).find(http::to_lower(match.value)) != std::string::npos;
    case Kind::Regex:
      return match.regex->full_match(value);
  }
  return false;
}

// Every value of `name` joined with ",", as Envoy matches a repeated header; nullopt when
// absent. A single value is returned without a copy.
std::optional<std::string_view> joined_values(const http::HeaderMap& headers, std::string_view name,
                                              std::string& storage) {
  std::optional<std::string_view> first;
  bool repeated = false;
  for (const auto& [key, value] : headers.entries()) {
    if (!http::iequals(key, name)) continue;
    if (!first) {
      first = value;
      continue;
    }
    if (!repeated) storage.assign(*first);
    repeated = true;
    storage += ',';
    storage += value;
  }
  if (repeated) return std::string_view(storage);
  return first;
}

bool header_matches(const config::HeaderMatcher& matcher, const http::HeaderMap& headers) {
  using Kind = config::HeaderMatcher::Kind;
  std::string storage;
  std::optional<std::string_view> value = joined_values(headers, matcher.name, storage);
  if (!value && !matcher.treat_missing_as_empty) {
    // A missing header matches only "present_match: false", inverted or not.
    return matcher.kind == Kind::Present &&
           (matcher.invert_match ? matcher.present : !matcher.present);
  }
  const std::string_view text = value.value_or("");
  bool matched = false;
  switch (matcher.kind) {
    case Kind::Present:
      matched = matcher.present;
      break;
    case Kind::String:
      matched = string_matches(matcher.string, text);
      break;
    case Kind::Range: {
      int64_t number = 0;
      auto [at, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      matched = error == std::errc() && at == text.data() + text.size() &&
                number >= matcher.range_start && number < matcher.range_end;
      break;
    }
  }
  return matched != matcher.invert_match;
}

bool path_matches(const config::RouteMatch& match, std::string_view full_path) {
  // Envoy matches path and regex against the path without query string and fragment,
  // a prefix against the whole :path.
  const std::string_view path = full_path.substr(0, full_path.find_first_of("?#"));
  const bool ignore_case = !match.case_sensitive;
  if (match.path) {
    return ignore_case ? http::iequals(path, *match.path) : path == *match.path;
  }
  if (match.safe_regex) return match.safe_regex->full_match(path);
  return starts_with(full_path, match.prefix.value_or(""), ignore_case);
}

}  // namespace

size_t host_port_start(std::string_view host) {
  const size_t colon = host.rfind(':');
  if (colon == std::string_view::npos) return colon;
  const size_t v6_end = host.rfind(']');
  if (v6_end == std::string_view::npos || v6_end < colon) return colon;
  return std::string_view::npos;
}

RouteTable::RouteTable(const config::RouteConfiguration& config)
    : ignore_port_(config.ignore_port_in_host_matching) {
  for (const auto& host : config.virtual_hosts) {
    Host entry{&host, {}};
    for (const auto& d : host.domains) entry.lower_domains.push_back(http::to_lower(d));
    hosts_.push_back(std::move(entry));
  }
}

const config::VirtualHost* RouteTable::find_host(std::string_view authority) const {
  if (ignore_port_) {
    if (size_t port = host_port_start(authority); port != std::string_view::npos) {
      authority = authority.substr(0, port);
    }
  }
  std::string host = http::to_lower(authority);
  const config::VirtualHost* suffix_best = nullptr;
  size_t suffix_len = 0;
  const config::VirtualHost* prefix_best = nullptr;
  size_t prefix_len = 0;
  const config::VirtualHost* any = nullptr;
  for (const Host& entry : hosts_) {
    const config::VirtualHost* h = entry.config;
    for (const std::string& domain : entry.lower_domains) {
      if (domain == "*") {
        if (!any) any = h;
      } else if (domain.size() > 1 && domain[0] == '*') {
        std::string_view suffix(domain.data() + 1, domain.size() - 1);
        if (host.size() > suffix.size() && host.ends_with(suffix) && suffix.size() > suffix_len) {
          suffix_best = h;
          suffix_len = suffix.size();
        }
      } else if (domain.size() > 1 && domain.back() == '*') {
        std::string_view prefix(domain.data(), domain.size() - 1);
        if (host.size() > prefix.size() && host.starts_with(prefix) && prefix.size() > prefix_len) {
          prefix_best = h;
          prefix_len = prefix.size();
        }
      } else if (domain == host) {
        return h;
      }
    }
  }
  if (suffix_best) return suffix_best;
  if (prefix_best) return prefix_best;
  return any;
}

const config::Route* RouteTable::match(const http::HeaderMap& request_headers) const {
  const config::VirtualHost* host =
      find_host(request_headers.get(http::KnownHeader::kAuthority).value_or(""));
  if (!host) return nullptr;
  const std::string_view full_path = request_headers.get(http::KnownHeader::kPath).value_or("/");
  for (const config::Route& route : host->routes) {
    if (!path_matches(route.match, full_path)) continue;
    bool headers_ok = true;
    for (const auto& matcher : route.match.headers) {
      if (!header_matches(matcher, request_headers)) {
        headers_ok = false;
        break;
      }
    }
    if (headers_ok) return &route;
  }
  return nullptr;
}

}  // namespace weir::proxy
