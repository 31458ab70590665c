#pragma once
// Base64 as protobuf's JSON mapping writes `bytes` fields (inline_bytes, BytesValue).
#include <optional>
#include <string>
#include <string_view>

namespace weir::config {

// Accepts the standard and the URL-safe alphabet, with or without "=" padding, as
// protobuf's JSON parser does. nullopt for anything else.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace weir::config
