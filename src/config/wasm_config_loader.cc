// envoy.extensions.wasm.v3.PluginConfig and its VmConfig: what the HTTP filter and the
// bootstrap WasmService share.
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>

#include "config/base64.h"
#include "config/envoy_names.h"
#include "config/loaders.h"
#include "config/typed_config.h"

namespace weir::config {
namespace {

namespace names = envoy_names;

void load_code(const ConfigNode& code, WasmPluginConfig& plugin) {
  code.expect_fields(names::kAsyncDataSource, {"local", "remote"});
  if (code.has("remote")) {
    code.field("remote").fail(
        "code.remote (fetching the module over HTTP) is not supported by "
        "weir: use code.local");
  }
  const ConfigNode local = code.required("local");
  local.expect_fields(names::kDataSource, {"filename", "inline_bytes", "inline_string"});
  const ConfigNode filename = local.field("filename");
  const ConfigNode inline_bytes = local.field("inline_bytes");
  const ConfigNode inline_string = local.field("inline_string");
  const int sources = filename.present() + inline_bytes.present() + inline_string.present();
  if (sources != 1) local.fail("needs exactly one of filename, inline_bytes and inline_string");

  if (filename.present()) {
    plugin.code_filename = filename.as_nonempty_string();
    std::error_code error;
    if (filename.context().options.check_code_files &&
        !std::filesystem::is_regular_file(plugin.code_filename, error)) {
      filename.fail("wasm module file \"" + plugin.code_filename + "\" does not exist");
    }
  } else if (inline_bytes.present()) {
    std::optional<std::string> bytes = decode_base64(inline_bytes.as_string());
    if (!bytes) inline_bytes.fail("inline_bytes must be base64");
    plugin.code_inline = std::move(*bytes);
  } else {
    plugin.code_inline = inline_string.as_string();
  }
}

void load_environment(const ConfigNode& environment, WasmPluginConfig& plugin) {
  environment.expect_fields(names::kEnvironmentVariables, {"host_env_keys", "key_values"});
  std::set<std::string> host_keys;
  for (const ConfigNode& key_node : environment.field("host_env_keys").items()) {
    const std::string key = key_node.as_nonempty_string();
    host_keys.insert(key);
    // Like Envoy: a host variable that is not set is simply not passed on.
    if (const char* value = std::getenv(key.c_str())) plugin.environment[key] = value;
  }
  for (const auto& [key, value] : environment.field("key_values").entries()) {
    if (host_keys.contains(key)) {
      value.fail("\"" + key + "\" is in both host_env_keys and key_values");
    }
    plugin.environment[key] = value.as_string();
  }
}

void load_limits(const ConfigNode& limits, WasmLimits& out) {
  if (!limits.present()) return;
  limits.expect_fields(
      names::kWeirLimits,
      {"call_deadline", "max_memory_bytes", "max_outstanding_calls", "max_call_response_bytes",
       "max_shared_queue_items", "max_shared_data_bytes", "max_log_line_bytes"});
  if (const ConfigNode n = limits.field("call_deadline"); n.present()) {
    out.call_deadline = n.as_duration();
    if (out.call_deadline < std::chrono::milliseconds(1) ||
        out.call_deadline > std::chrono::milliseconds(60'000)) {
      n.fail("call_deadline must be between 1ms and 60s");
    }
  }
  constexpr uint64_t kPage = 64 * 1024;
  if (const ConfigNode n = limits.field("max_memory_bytes"); n.present()) {
    out.max_memory_bytes = n.as_uint(kPage, 4ull * 1024 * 1024 * 1024);
  }
  if (const ConfigNode n = limits.field("max_outstanding_calls"); n.present()) {
    out.max_outstanding_calls = static_cast<uint32_t>(n.as_uint(1, 1'000'000));
  }
  if (const ConfigNode n = limits.field("max_call_response_bytes"); n.present()) {
    out.max_call_response_bytes = n.as_uint(0, 1ull << 32);
  }
  if (const ConfigNode n = limits.field("max_shared_queue_items"); n.present()) {
    out.max_shared_queue_items = static_cast<uint32_t>(n.as_uint(1, 100'000'000));
  }
  if (const ConfigNode n = limits.field("max_shared_data_bytes"); n.present()) {
    out.max_shared_data_bytes = n.as_uint(0, 1ull << 40);
  }
  if (const ConfigNode n = limits.field("max_log_line_bytes"); n.present()) {
    out.max_log_line_bytes = static_cast<uint32_t>(n.as_uint(64, 1u << 24));
  }
}

void load_vm_config(const ConfigNode& vm_config, WasmPluginConfig& plugin) {
  vm_config.expect_fields(names::kVmConfig,
                          {"vm_id", "runtime", "code", "configuration", "allow_precompiled",
                           "environment_variables", "weir_limits"});
  load_limits(vm_config.field("weir_limits"), plugin.limits);
  if (vm_config.has("vm_id")) plugin.vm_id = vm_config.field("vm_id").as_string();
  if (vm_config.has("runtime")) {
    const ConfigNode runtime = vm_config.field("runtime");
    plugin.runtime = runtime.as_string();
    // Envoy configs name V8; weir runs every plugin on Wasmtime, which runs the same
    // modules. The null VM (native code) and other engines are not something it can be.
    if (!plugin.runtime.empty() && plugin.runtime != "envoy.wasm.runtime.v8" &&
        plugin.runtime != "envoy.wasm.runtime.wasmtime") {
      runtime.fail("unsupported runtime '" + plugin.runtime +
                   "': weir runs plugins on Wasmtime and accepts envoy.wasm.runtime.v8 or "
                   "envoy.wasm.runtime.wasmtime (or no runtime)");
    }
  }
  plugin.vm_configuration = any_configuration_bytes(vm_config.field("configuration"));
  // Only a permission to use precompiled code: weir has none, so it changes nothing.
  if (vm_config.has("allow_precompiled")) vm_config.field("allow_precompiled").as_bool();
  load_code(vm_config.required("code"), plugin);
  load_environment(vm_config.field("environment_variables"), plugin);
}

}  // namespace

WasmPluginConfig load_wasm_plugin(const ConfigNode& plugin_config) {
  plugin_config.expect_fields(names::kPluginConfig,
                              {"name", "root_id", "vm_config", "configuration", "fail_open",
                               "failure_policy", "allow_on_headers_stop_iteration"});
  WasmPluginConfig plugin;
  if (plugin_config.has("name")) plugin.name = plugin_config.field("name").as_string();
  if (plugin_config.has("root_id")) plugin.root_id = plugin_config.field("root_id").as_string();
  plugin.plugin_configuration = any_configuration_bytes(plugin_config.field("configuration"));

  // failure_policy wins over the deprecated fail_open unless it is UNSPECIFIED, as in Envoy.
  const ConfigNode fail_open = plugin_config.field("fail_open");
  if (fail_open.present() && fail_open.as_bool()) plugin.failure_policy = FailurePolicy::FailOpen;
  const ConfigNode failure_policy = plugin_config.field("failure_policy");
  if (failure_policy.present()) {
    const auto policy = failure_policy.as_enum<std::optional<FailurePolicy>>({
        {"UNSPECIFIED", std::nullopt},
        {"FAIL_CLOSED", FailurePolicy::FailClosed},
        {"FAIL_RELOAD", FailurePolicy::FailReload},
        {"FAIL_OPEN", FailurePolicy::FailOpen},
    });
    if (policy) plugin.failure_policy = *policy;
  }
  // A google.protobuf.BoolValue, whose JSON (and YAML) form is the bare bool.
  const ConfigNode allow_stop = plugin_config.field("allow_on_headers_stop_iteration");
  if (allow_stop.present()) plugin.allow_on_headers_stop_iteration = allow_stop.as_bool();

  load_vm_config(plugin_config.required("vm_config"), plugin);
  return plugin;
}

}  // namespace weir::config
