#pragma once
// Envoy's TLS contexts (config) as the plain options the net layer builds OpenSSL
// contexts from.
#include <vector>

#include "config/config.h"
#include "net/tls/tls_options.h"

namespace weir::proxy {

// One entry per filter chain of a TLS listener.
std::vector<net::tls::ServerOptions> server_tls_options(
    const std::vector<config::FilterChainConfig>& chains);
net::tls::ClientOptions client_tls_options(const config::UpstreamTlsContextConfig& tls);

}  // namespace weir::proxy
