#pragma once
// Field helpers both HTTP/2 codecs (server and client) use to frame a header map, and to
// take one in.
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/http2_server_codec.h"  // Http2Options, Http2Event

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

// One field of a head that nghttp2 has decoded (and checked: lower-case name, valid
// characters, pseudo headers first and known, no connection-specific field) into the
// stream's header map, within the head limits. Past them the stream is reset (nghttp2
// sends RST_STREAM) and the connection lives on, as in Envoy.
template <typename Stream, typename Visitor>
int take_http2_field(Stream& s, const Http2Options& options, Visitor& visitor, const uint8_t* name,
                     size_t namelen, const uint8_t* value, size_t valuelen) {
  if (s.overflow) return 0;
  s.header_bytes += namelen + valuelen;
  if (s.header_bytes > options.max_header_bytes || s.headers.size() >= options.max_headers) {
    s.overflow = true;
    visitor.on_event(Http2Event::kHeaderOverflow);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  s.headers.add_lower_case({reinterpret_cast<const char*>(name), namelen},
                           {reinterpret_cast<const char*>(value), valuelen});
  return 0;
}

}  // namespace weir::http
