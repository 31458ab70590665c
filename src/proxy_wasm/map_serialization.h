#pragma once
// The Proxy-Wasm map wire format: u32 count, count x (u32 key_len, u32 value_len), then
// each key and value followed by a NUL. Integers little-endian.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "http/header_map.h"

namespace weir::proxy_wasm {

// Bytes serialize_map() writes for `map`.
size_t serialized_map_size(const http::HeaderMap& map);
// Writes the map into `out` (exactly serialized_map_size() bytes).
void serialize_map(const http::HeaderMap& map, uint8_t* out);
std::string serialize_map(const http::HeaderMap& map);

// Parses a serialized map leniently: size 0 and a single 0x00 byte are the empty map.
// Every length is bounds-checked; nullopt on malformed input. The views point into `data`.
std::optional<std::vector<std::pair<std::string_view, std::string_view>>> parse_map(
    std::string_view data);

// Appends `value` as 8 little-endian bytes (the property encoding of integers).
void append_le64(std::string& out, uint64_t value);

}  // namespace weir::proxy_wasm
