#pragma once
// Picks the route for a request: the virtual host by :authority (exact, then suffix
// wildcard "*.x", then prefix wildcard "x.*", then "*"), then the first route whose
// match fits, as Envoy does. Regexes were compiled (RE2) when the config loaded: matching
// takes time linear in the client's path and headers.
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/header_map.h"

namespace weir::proxy {

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
};

}  // namespace weir::proxy
