#pragma once
// Serializes HTTP/1.1 messages from header maps with pseudo headers: the inverse of
// Http1Parser. Pseudo headers become the start line and are not written as fields.
#include <string>
#include <string_view>

#include "http/header_map.h"

namespace weir::http {

// "GET /path HTTP/1.1\r\nhost: …\r\n…\r\n". :authority becomes Host.
void write_request_head(const HeaderMap& headers, std::string& out);
// "HTTP/1.1 200 OK\r\n…\r\n", reason phrase from the status code.
void write_response_head(const HeaderMap& headers, std::string& out);
// One chunk of a chunked body ("<hex>\r\n<data>\r\n"); empty data writes nothing.
void write_chunk(std::string_view data, std::string& out);
// The last chunk, with optional trailers: "0\r\n<trailers>\r\n".
void write_last_chunk(const HeaderMap* trailers, std::string& out);

std::string_view reason_phrase(int status);

// Removes the hop-by-hop fields (connection, keep-alive, proxy-connection,
// transfer-encoding, upgrade, te except "trailers", and every field the Connection
// header names) before a message is forwarded.
void strip_hop_by_hop_headers(HeaderMap& headers);

}  // namespace weir::http
