#pragma once
// Picks the route for a request: the virtual host by :authority (exact, then the longest
// suffix wildcard "*.x", then the longest prefix wildcard "x.*", then "*"), then the first
// route whose match fits, as Envoy does. The authority is matched whole, port included,
// unless the route configuration sets ignore_port_in_host_matching (Envoy's rule: a domain
// "foo:1234" matches only that port; "*.foo" does not match "a.foo:80"). Regexes were compiled
// (RE2) when the config loaded: matching takes time linear in the client's path and headers.
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/header_map.h"

namespace weir::proxy {

// Where the port of a Host value starts (its ':'), or npos: Envoy's getPortStart (an
// IPv6 literal counts only in brackets: "[::1]:80").
size_t host_port_start(std::string_view host);

class RouteTable {
 public:
  explicit RouteTable(const config::RouteConfiguration& config);
  // nullptr when nothing matches (the caller answers 404).
  const config::Route* match(const http::HeaderMap& request_headers) const;

 private:
  const config::VirtualHost* find_host(std::string_view authority) const;

  struct Host {
    const config::VirtualHost* config;
    std::vector<std::string> lower_domains;  // lower-cased once, at load
  };
  std::vector<Host> hosts_;
  bool ignore_port_ = false;
};

}  // namespace weir::proxy
