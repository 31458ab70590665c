#pragma once
// Field helpers both HTTP/2 codecs (server and client) use to frame a header map.
#include <nghttp2/nghttp2.h>

#include <string>
#include <string_view>

namespace weir::http {

// Fields that mean something only to an HTTP/1 connection (RFC 9113 §8.2.2): never sent.
inline bool http2_connection_specific(std::string_view name) {
  return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
         name == "transfer-encoding" || name == "upgrade";
}

// nghttp2 copies names and values on submit: an nv only lives for the call.
inline nghttp2_nv make_http2_nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

}  // namespace weir::http
