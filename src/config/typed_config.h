#pragma once
// google.protobuf.Any as Envoy configs write it: typed_config directly ("@type" plus the
// message's fields), wrapped in a TypedStruct (udpa.type.v1 / xds.type.v3: type_url plus
// value), and the well-known wrappers a Wasm `configuration` holds.
#include <string>
#include <string_view>

#include "config/config_node.h"

namespace weir::config {

// The message type a typed_config carries: the "@type" after its last '/', or for a
// TypedStruct its type_url's. Empty when there is no "@type".
std::string typed_config_type(const ConfigNode& typed_config);

// The node holding the fields of `expected_type`: typed_config itself (where "@type" is
// then allowed) or a TypedStruct's `value`. A missing "@type" is read as the expected
// type; another type is an error.
ConfigNode typed_config_body(const ConfigNode& typed_config, std::string_view expected_type);

// The bytes a plugin receives for a Wasm `configuration` Any: StringValue's value as
// written, BytesValue's value base64-decoded (as protobuf's JSON mapping defines it),
// a Struct's value as compact JSON. Other types are refused: Envoy would hand over
// their serialized protobuf, which weir cannot produce.
std::string any_configuration_bytes(const ConfigNode& any);

}  // namespace weir::config
