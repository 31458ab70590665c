#pragma once
// Picks the route for a request: the virtual host by :authority (exact, then suffix
// wildcard "*.x", then prefix wildcard "x.*", then "*"), then the first route whose
// match fits, as Envoy does.
#include <memory>
#include <regex>
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
  struct CompiledRoute {
    const config::Route* route;
    std::unique_ptr<std::regex> regex;
  };
  struct CompiledHost {
    const config::VirtualHost* host;
    std::vector<CompiledRoute> routes;
  };
  const CompiledHost* find_host(std::string_view authority) const;
  static bool headers_match(const config::Route& route, const http::HeaderMap& headers);

  std::vector<CompiledHost> hosts_;
};

}  // namespace weir::proxy
