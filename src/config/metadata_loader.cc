// core.v3.Metadata, google.protobuf.Struct values and Bootstrap.node: data plugins read
// through the route_metadata, cluster_metadata, listener_metadata and node properties.
#include <yaml-cpp/yaml.h>

#include "config/envoy_names.h"
#include "config/loaders.h"

namespace weir::config {

namespace names = envoy_names;

namespace {

// Scalars typed as Envoy's YAML reader types them for a Struct (see yaml_to_json.h):
// quoted -> string; plain -> bool, else number, else string; null -> null.
common::ProtoValue scalar_value(const YAML::Node& node) {
  common::ProtoValue v;
  if (node.IsNull()) return v;
  const bool quoted = node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
  if (!quoted) {
    bool boolean = false;
    if (YAML::convert<bool>::decode(node, boolean)) {
      v.kind = common::ProtoValue::Kind::Bool;
      v.boolean = boolean;
      return v;
    }
    double number = 0;
    if (YAML::convert<double>::decode(node, number)) {
      v.kind = common::ProtoValue::Kind::Number;
      v.number = number;
      return v;
    }
  }
  v.kind = common::ProtoValue::Kind::String;
  v.string = node.Scalar();
  return v;
}

}  // namespace

common::ProtoValue load_struct(const ConfigNode& value) {
  common::ProtoValue v;
  if (value.is_mapping()) {
    v.kind = common::ProtoValue::Kind::Struct;
    for (const auto& [key, field] : value.entries()) v.fields[key] = load_struct(field);
  } else if (value.is_sequence()) {
    v.kind = common::ProtoValue::Kind::List;
    for (const ConfigNode& item : value.items()) v.list.push_back(load_struct(item));
  } else if (value.present()) {
    v = scalar_value(value.yaml());
  }
  return v;
}

common::Metadata load_metadata(const ConfigNode& metadata) {
  common::Metadata result;
  if (!metadata.present()) return result;
  metadata.expect_fields(names::kMetadata, {"filter_metadata"});
  for (const auto& [name, value] : metadata.field("filter_metadata").entries()) {
    if (!value.is_mapping()) value.fail("a filter_metadata entry must be a mapping (a Struct)");
    result.filter_metadata[name] = load_struct(value);
  }
  return result;
}

common::NodeInfo load_node(const ConfigNode& node) {
  common::NodeInfo result;
  if (!node.present()) return result;
  node.expect_fields(names::kNode, {"id", "cluster", "metadata", "locality", "user_agent_name"});
  if (node.has("id")) result.id = node.field("id").as_string();
  if (node.has("cluster")) result.cluster = node.field("cluster").as_string();
  if (node.has("user_agent_name")) {
    result.user_agent_name = node.field("user_agent_name").as_string();
  }
  if (node.has("metadata")) {
    const ConfigNode metadata = node.field("metadata");
    if (!metadata.is_mapping()) metadata.fail("node.metadata must be a mapping (a Struct)");
    result.metadata = load_struct(metadata);
  }
  if (node.has("locality")) {
    const ConfigNode locality = node.field("locality");
    locality.expect_fields(names::kLocality, {"region", "zone", "sub_zone"});
    if (locality.has("region")) result.region = locality.field("region").as_string();
    if (locality.has("zone")) result.zone = locality.field("zone").as_string();
    if (locality.has("sub_zone")) result.sub_zone = locality.field("sub_zone").as_string();
  }
  return result;
}

}  // namespace weir::config
