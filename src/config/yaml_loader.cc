// The entry points: YAML text in, a validated BootstrapConfig (or one located error) out.
// Also the top of the tree: Bootstrap, admin, static_resources, bootstrap_extensions.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "config/config.h"
#include "config/config_node.h"
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"
#include "config/validation.h"
#include "config/yaml_bounds.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

std::optional<AdminConfig> load_admin(const ConfigNode& admin) {
  if (!admin.present()) return std::nullopt;
  admin.expect_fields(names::kAdmin, {"access_log_path", "address", "ignore_global_conn_limit"});
  if (!admin.has("address")) {
    admin.warn("admin has no address: the admin interface is disabled");
    return std::nullopt;
  }
  AdminConfig result;
  const ConfigNode address = admin.field("address");
  result.address = load_address(address);
  if (!is_ip_literal(result.address.address)) {
    address_host_node(address).fail("the admin address must be a numeric IP address, got \"" +
                                    result.address.address + "\"");
  }
  if (admin.has("access_log_path")) {
    result.access_log_path = admin.field("access_log_path").as_string();
  }
  if (admin.has("ignore_global_conn_limit")) {
    result.ignore_global_conn_limit = admin.field("ignore_global_conn_limit").as_bool();
  }
  return result;
}

// bootstrap_extensions: weir knows one, envoy.bootstrap.wasm (a WasmService).
WasmPluginConfig load_wasm_service(const ConfigNode& extension) {
  extension.expect_fields(names::kTypedExtensionConfig, {"name", "typed_config"});
  const ConfigNode name = extension.required("name");
  const ConfigNode typed_config = extension.field("typed_config");
  const std::string type = typed_config_type(typed_config);
  if (type != names::kWasmService &&
      !(type.empty() && name.as_string() == names::kWasmServiceName)) {
    name.fail("unsupported bootstrap extension \"" + name.as_string() + "\"" +
              (type.empty() ? "" : " of type " + type) + ": weir implements envoy.bootstrap.wasm");
  }
  const ConfigNode service =
      typed_config_body(extension.required("typed_config"), names::kWasmService);
  service.expect_fields(names::kWasmService, {"singleton", "config"});
  WasmPluginConfig plugin = load_wasm_plugin(service.required("config"));
  if (service.has("singleton")) plugin.singleton = service.field("singleton").as_bool();
  plugin.location = typed_config.location();
  return plugin;
}

BootstrapConfig load_bootstrap(const ConfigNode& bootstrap) {
  bootstrap.expect_fields(names::kBootstrap,
                          {"admin", "static_resources", "bootstrap_extensions", "stats_config",
                           "layered_runtime", "overload_manager", "node"});
  LoadContext& context = bootstrap.context();
  load_layered_runtime(bootstrap.field("layered_runtime"));
  if (auto level = runtime_uint(context, "re2.max_program_size.error_level", 0, UINT32_MAX)) {
    context.regex_max_program_size = static_cast<uint32_t>(*level);
  }
  if (auto level = runtime_uint(context, "re2.max_program_size.warn_level", 0, UINT32_MAX)) {
    context.regex_warn_program_size = static_cast<uint32_t>(*level);
  }
  BootstrapConfig config;
  config.overload = load_overload_manager(bootstrap.field("overload_manager"));
  config.admin = load_admin(bootstrap.field("admin"));
  config.stats_config = load_stats_config(bootstrap.field("stats_config"));

  const ConfigNode static_resources = bootstrap.field("static_resources");
  static_resources.expect_fields(names::kStaticResources, {"listeners", "clusters"});
  for (const ConfigNode& listener : static_resources.field("listeners").items()) {
    config.listeners.push_back(load_listener(listener));
  }
  for (const ConfigNode& cluster : static_resources.field("clusters").items()) {
    config.clusters.push_back(load_cluster(cluster));
  }
  for (const ConfigNode& extension : bootstrap.field("bootstrap_extensions").items()) {
    config.wasm_services.push_back(load_wasm_service(extension));
  }
  // Every plugin reads the node (its `node` property), as each Envoy plugin has local_info.
  config.node = std::make_shared<const common::NodeInfo>(load_node(bootstrap.field("node")));
  for (ListenerConfig& listener : config.listeners) {
    for (HttpFilterConfig& filter : listener.http.http_filters) filter.wasm.node = config.node;
  }
  for (WasmPluginConfig& service : config.wasm_services) service.node = config.node;
  resolve_remote_code_clusters(config);
  warn_unread_runtime_keys(context);
  return config;
}

std::string located(const std::string& file, const YAML::Mark& mark, const std::string& message) {
  const bool known = mark.line >= 0 && mark.column >= 0;
  SourceLocation where{file, known ? mark.line + 1 : 1, known ? mark.column + 1 : 1, ""};
  return where.format_message(message);
}

}  // namespace

Result<LoadOutcome> load_bootstrap_string(const std::string& yaml, const std::string& file_name,
                                          const LoadOptions& options) {
  LoadContext context;
  context.file = file_name;
  context.options = options;
  try {
    const YAML::Node root = YAML::Load(yaml);
    if (auto bad = yaml_out_of_bounds(root)) return Error{file_name + ":" + *bad};
    LoadOutcome outcome;
    outcome.config = load_bootstrap(ConfigNode::document(root, context));
    outcome.config.source_file = file_name;
    if (Status valid = validate_bootstrap(outcome.config); !valid.ok()) {
      return Error{valid.error()};
    }
    outcome.warnings = std::move(context.warnings);
    return outcome;
  } catch (const LoadError& error) {
    return Error{error.what()};
  } catch (const YAML::Exception& error) {  // syntax errors, and anything else yaml-cpp finds
    return Error{located(file_name, error.mark, "invalid YAML: " + error.msg)};
  }
}

Result<LoadOutcome> load_bootstrap_file(const std::string& path, const LoadOptions& options) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{path + ": cannot open: " + std::strerror(errno)};
  const std::string yaml((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) return Error{path + ": cannot read: " + std::strerror(errno)};
  return load_bootstrap_string(yaml, path, options);
}

}  // namespace weir::config
