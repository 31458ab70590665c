#pragma once
// Serializes HTTP/1.1 messages from header maps with pseudo headers: the inverse of
// Http1Parser. Pseudo headers become the start line and are not written as fields.
// Every function appends to `out`. Fields are written as they are, in order, as
// "name: value"; CR, LF and NUL bytes are dropped from anything written so that a value set
// by a plugin cannot end a line early (header injection / response splitting). Framing
// fields (content-length, transfer-encoding) are the caller's to set.
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "http/header_map.h"

namespace weir::http {

// "GET /path HTTP/1.1\r\nhost: …\r\n…\r\n". :authority becomes Host (first), unless the map
// has a host field. A missing :method or :path is written as GET or /.
void write_request_head(const HeaderMap& headers, std::string& out);
using Field = std::pair<std::string_view, std::string_view>;
// The request head `headers` would make after strip_hop_by_hop_headers(), without fields
// called `drop` (lower-case; may be empty), and with the `append` fields at the end, which
// must be hop-by-hop fields this hop sets itself (connection, upgrade, transfer-encoding):
// for forwarding a request without copying or changing its map.
void write_forwarded_request_head(const HeaderMap& headers, std::string_view drop,
                                  std::span<const Field> append, std::string& out);
// "HTTP/1.1 200 OK\r\n…\r\n", reason phrase from the status code. A missing or malformed
// :status (not three digits) is written as 500.
void write_response_head(const HeaderMap& headers, std::string& out);
// One chunk of a chunked body ("<hex>\r\n<data>\r\n"); empty data writes nothing.
void write_chunk(std::string_view data, std::string& out);
// The last chunk, with optional trailers: "0\r\n<trailers>\r\n".
void write_last_chunk(const HeaderMap* trailers, std::string& out);

std::string_view reason_phrase(int status);

// Removes the hop-by-hop fields (connection, keep-alive, proxy-connection,
// transfer-encoding, upgrade, te except "trailers", and every field the Connection
// header names) before a message is forwarded. A te field listing "trailers" becomes
// "te: trailers". Connection cannot remove host, content-length or pseudo headers.
void strip_hop_by_hop_headers(HeaderMap& headers);

}  // namespace weir::http
