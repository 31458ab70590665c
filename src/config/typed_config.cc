#include "config/typed_config.h"

#include "config/base64.h"
#include "config/envoy_names.h"
#include "config/yaml_to_json.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

// "type.googleapis.com/envoy.x.v3.Y" -> "envoy.x.v3.Y"; any host prefix is accepted.
std::string type_from_url(const std::string& type_url) {
  const size_t slash = type_url.rfind('/');
  return slash == std::string::npos ? type_url : type_url.substr(slash + 1);
}

std::string declared_type(const ConfigNode& any) {
  const ConfigNode type = any.field("@type");
  return type.present() ? type_from_url(type.as_string()) : std::string();
}

bool is_typed_struct(std::string_view type) {
  return type == names::kUdpaTypedStruct || type == names::kXdsTypedStruct;
}

void expect_any_mapping(const ConfigNode& any) {
  if (any.present() && !any.is_mapping()) {
    any.fail("expected a mapping with an \"@type\", got " + any.kind_name());
  }
}

}  // namespace

std::string typed_config_type(const ConfigNode& typed_config) {
  if (!typed_config.is_mapping()) return "";
  std::string type = declared_type(typed_config);
  if (!is_typed_struct(type)) return type;
  const ConfigNode type_url = typed_config.field("type_url");
  return type_url.present() ? type_from_url(type_url.as_string()) : std::string();
}

ConfigNode typed_config_body(const ConfigNode& typed_config, std::string_view expected_type) {
  if (!typed_config.present()) return typed_config;
  expect_any_mapping(typed_config);
  ConfigNode any = typed_config.as_any();
  const std::string type = declared_type(any);

  if (is_typed_struct(type)) {
    any.expect_fields(type, {"type_url", "value"});
    const ConfigNode type_url = any.required("type_url");
    if (type_from_url(type_url.as_string()) != expected_type) {
      type_url.fail("expected type_url type.googleapis.com/" + std::string(expected_type) +
                    ", got \"" + type_url.as_string() + "\"");
    }
    return any.field("value");
  }
  if (!type.empty() && type != expected_type) {
    any.field("@type").fail("expected \"@type\": type.googleapis.com/" +
                            std::string(expected_type) + ", got \"" +
                            any.field("@type").as_string() + "\"");
  }
  return any;
}

std::string any_configuration_bytes(const ConfigNode& configuration) {
  if (!configuration.present()) return "";
  expect_any_mapping(configuration);
  const ConfigNode any = configuration.as_any();
  const std::string type = declared_type(any);
  if (type.empty()) {
    any.fail(
        "missing required field \"@type\" (type.googleapis.com/google.protobuf.StringValue, "
        "BytesValue or Struct)");
  }
  if (type != names::kStringValue && type != names::kBytesValue && type != names::kStruct) {
    any.field("@type").fail("unsupported configuration type \"" + type +
                            "\": weir passes google.protobuf.StringValue, BytesValue and Struct");
  }
  any.expect_fields(type, {"value"});
  const ConfigNode value = any.field("value");

  if (type == names::kStringValue) return value.present() ? value.as_string() : "";
  if (type == names::kStruct) {
    if (!value.present()) return "{}";
    if (!value.is_mapping()) {
      value.fail("a Struct's value must be a mapping, got " + value.kind_name());
    }
    return yaml_to_json(value.yaml());
  }
  if (!value.present()) return "";
  std::optional<std::string> bytes = decode_base64(value.as_string());
  if (!bytes) value.fail("a BytesValue's value must be base64");
  return *bytes;
}

}  // namespace weir::config
