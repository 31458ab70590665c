#include "proxy/route_table.h"

namespace weir::proxy {

RouteTable::RouteTable(const config::RouteConfiguration& config) {
  for (const auto& vh : config.virtual_hosts) {
    CompiledHost host{&vh, {}};
    for (const auto& r : vh.routes) {
      CompiledRoute cr{&r, nullptr};
      if (r.match.safe_regex) cr.regex = std::make_unique<std::regex>(*r.match.safe_regex);
      host.routes.push_back(std::move(cr));
    }
    hosts_.push_back(std::move(host));
  }
}

const RouteTable::CompiledHost* RouteTable::find_host(std::string_view authority) const {
  std::string host = http::to_lower(authority);
  // Strip the port, but not from a bare IPv6 literal.
  auto colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']') == std::string::npos &&
      host.find(':') == colon) {
    host.resize(colon);
  }
  const CompiledHost* suffix_best = nullptr;
  size_t suffix_len = 0;
  const CompiledHost* prefix_best = nullptr;
  size_t prefix_len = 0;
  const CompiledHost* any = nullptr;
  for (const auto& h : hosts_) {
    for (const auto& d : h.host->domains) {
      std::string domain = http::to_lower(d);
      if (domain == "*") {
        if (!any) any = &h;
      } else if (domain.size() > 1 && domain[0] == '*') {
        std::string_view suffix(domain.data() + 1, domain.size() - 1);
        if (host.size() > suffix.size() && host.ends_with(suffix) && suffix.size() > suffix_len) {
          suffix_best = &h;
          suffix_len = suffix.size();
        }
      } else if (domain.size() > 1 && domain.back() == '*') {
        std::string_view prefix(domain.data(), domain.size() - 1);
        if (host.size() > prefix.size() && host.starts_with(prefix) && prefix.size() > prefix_len) {
          prefix_best = &h;
          prefix_len = prefix.size();
        }
      } else if (domain == host) {
        return &h;
      }
    }
  }
  if (suffix_best) return suffix_best;
  if (prefix_best) return prefix_best;
  return any;
}

bool RouteTable::headers_match(const config::Route& route, const http::HeaderMap& headers) {
  for (const auto& m : route.match.headers) {
    auto value = headers.get(m.name);
    bool ok;
    if (m.exact_match) {
      ok = value && *value == *m.exact_match;
    } else if (m.prefix_match) {
      ok = value && value->starts_with(*m.prefix_match);
    } else if (m.present_match) {
      ok = value.has_value() == *m.present_match;
    } else {
      ok = value.has_value();
    }
    if (ok == m.invert_match) return false;
  }
  return true;
}

const config::Route* RouteTable::match(const http::HeaderMap& request_headers) const {
  const CompiledHost* host = find_host(request_headers.get(":authority").value_or(""));
  if (!host) return nullptr;
  std::string_view full_path = request_headers.get(":path").value_or("/");
  std::string_view path = full_path.substr(0, full_path.find_first_of("?#"));
  for (const auto& cr : host->routes) {
    const auto& m = cr.route->match;
    bool ok;
    if (m.path) {
      ok = path == *m.path;
    } else if (cr.regex) {
      ok = std::regex_match(path.begin(), path.end(), *cr.regex);
    } else {
      ok = full_path.starts_with(m.prefix.value_or(""));
    }
    if (ok && headers_match(*cr.route, request_headers)) return cr.route;
  }
  return nullptr;
}

}  // namespace weir::proxy
