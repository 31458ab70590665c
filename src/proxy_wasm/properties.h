#pragma once
// proxy_get_property: Envoy's attribute names as NUL-separated token paths
// ("request\0path"). Encodings: strings raw, integers 8-byte little-endian, booleans one
// byte, times int64 ns since the epoch, maps serialized pairs.
#include <string>
#include <string_view>

namespace weir::proxy_wasm {

class ContextBase;

// Writes the value of `path` for context `ctx` to `out`; false for NOT_FOUND.
// Answers plugin_name, plugin_root_id, plugin_vm_id, node, values set with
// proxy_set_property, and request.* / response.headers derived from the header maps;
// everything else about the stream comes from StreamHost::get_stream_property().
// A path with no NUL but dots ("request.path") is accepted too.
bool resolve_property(ContextBase& ctx, std::string_view path, std::string& out);

// Property value encoders for StreamHost implementations.
void encode_int(std::string& out, int64_t v);
void encode_bool(std::string& out, bool v);

}  // namespace weir::proxy_wasm
