#pragma once
// google.protobuf.Struct values and the few Envoy messages made of them (core.v3.Metadata,
// core.v3.Node), as config gives them and as plugins read them through properties: Envoy
// answers a property of message type with the serialized protobuf, and a path into one
// (`route_metadata.filter_metadata.NS.KEY`) the way its CEL layer does. Encoded by hand:
// the wire format of these few messages is small, and weir links no protobuf.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace weir::common {

// google.protobuf.Value.
struct ProtoValue {
  enum class Kind { Null, Number, String, Bool, Struct, List };
  Kind kind = Kind::Null;
  double number = 0;
  bool boolean = false;
  std::string string;
  std::map<std::string, ProtoValue> fields;  // Kind::Struct
  std::vector<ProtoValue> list;              // Kind::List

  static ProtoValue empty_struct() {
    ProtoValue v;
    v.kind = Kind::Struct;
    return v;
  }
};

// envoy.config.core.v3.Metadata: filter_metadata (typed_filter_metadata is not kept).
struct Metadata {
  std::map<std::string, ProtoValue> filter_metadata;  // each value a Kind::Struct
  bool empty() const { return filter_metadata.empty(); }
};

// envoy.config.core.v3.Node, the fields weir reads from the bootstrap.
struct NodeInfo {
  std::string id;
  std::string cluster;
  ProtoValue metadata = ProtoValue::empty_struct();
  std::string region, zone, sub_zone;  // locality
  std::string user_agent_name;
};

// Serialized protobuf (proto3 wire format, map entries in key order).
void encode_struct(const ProtoValue& s, std::string& out);  // google.protobuf.Struct
void encode_metadata(const Metadata& m, std::string& out);
void encode_node(const NodeInfo& n, std::string& out);

// The value at `path` (NUL-separated tokens after the property's own name, possibly
// empty) as Envoy's getProperty gives it: a message serialized, a Struct or map field as
// serialized pairs (values encoded the same way), a string raw, a number as a little-endian
// double, a bool as one byte, a list as pairs of (element, ""). False: NOT_FOUND (or a
// value Envoy cannot serialize, a null).
bool metadata_property(const Metadata& m, std::string_view path, std::string& out);
bool node_property(const NodeInfo& n, std::string_view path, std::string& out);

}  // namespace weir::common
